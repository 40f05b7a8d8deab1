/**
 * POST /content of forms against a real service: what a form of one file or one folder is stored as
 * (wrap-with-directory), and what its pin is named when the form names none.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { blocksOf, directoryDag, failureOf, fileDag, postContent, storedOf } from '../fixtures/content.js'
import { accepted } from '../fixtures/pins-api.js'

describe('POST /content: forms', () => {
  let svc: TestService
  // No background sweeps: what a failed upload leaves must be gone because it cleaned up after itself.
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_GC_INTERVAL_MS: '3600000' } })
  })
  afterAll(async () => { await svc.destroy() })

  it('stores a form of one file as the file itself, as ipfs add and pinFileToIPFS do; wrap-with-directory wraps it',
    async () => {
      // Old code: the file under a directory, whose /ipfs/{cid} was a JSON listing.
      const form = (path: string, bytes: Uint8Array): FormData => {
        const f = new FormData()
        f.append('file', new Blob([bytes]), path)
        return f
      }
      for (const bytes of [new TextEncoder().encode('quarterly numbers\n'), randomBytes(600 * 1024)]) {
        const file = await fileDag(bytes)
        const wrapped = await directoryDag([{ path: 'report.pdf', bytes }])
        const status = await accepted(await postContent(svc, form('report.pdf', bytes)))
        expect(status).toMatchObject({ status: 'pinned', pin: { cid: file.root.toString(), name: 'report.pdf' } })
        expect(status.info.dag_size).toBe(String((await blocksOf(file)).reduce((n, b) => n + b.bytes.byteLength, 0)))
        const res = await svc.request(`/ipfs/${status.pin.cid}`, { user: 'alice' })
        expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
        // The directory the importer built around it was never stored.
        expect(await storedOf(svc, [wrapped.root])).toEqual([])

        const kept = await accepted(await postContent(svc, form('report.pdf', bytes), {
          query: { 'wrap-with-directory': 'true' }
        }))
        expect(kept.pin).toMatchObject({ cid: wrapped.root.toString(), name: 'report.pdf' })
        const inside = await svc.request(`/ipfs/${kept.pin.cid}/report.pdf`, { user: 'alice' })
        expect(Buffer.from(await inside.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
        const query = { 'wrap-with-directory': 'false' }
        const explicit = await postContent(svc, form('report.pdf', bytes), { query })
        expect((await accepted(explicit)).pin.cid).toBe(file.root.toString())
      }
    })

  it('stores a form of one folder as that folder, as ipfs add -r does; wrap-with-directory keeps the directory ' +
    'around it', async () => {
    // Old code: a directory holding the folder (`ipfs add -r -w`), for a folder of one file too.
    const text = (s: string): Uint8Array => new TextEncoder().encode(s)
    for (const inside of [
      [{ path: 'notes.txt', bytes: text('notes\n') }],
      [{ path: 'index.html', bytes: text('<p>hi') }, { path: 'css/app.css', bytes: randomBytes(300 * 1024) }]
    ]) {
      const folder = await directoryDag(inside) // a folder's DAG is that of a directory of what it holds
      const wrapped = await directoryDag(inside.map(f => ({ path: `docs/${f.path}`, bytes: f.bytes })))
      const form = (): FormData => {
        const f = new FormData()
        for (const file of inside) f.append('file', new Blob([file.bytes]), `docs/${file.path}`)
        return f
      }
      const status = await accepted(await postContent(svc, form()))
      expect(status).toMatchObject({ status: 'pinned', pin: { cid: folder.root.toString(), name: 'docs' } })
      expect(status.info.dag_size)
        .toBe(String((await blocksOf(folder)).reduce((n, b) => n + b.bytes.byteLength, 0)))
      expect(await storedOf(svc, [wrapped.root])).toEqual([])
      const read = await svc.request(`/ipfs/${status.pin.cid}/${inside[0]?.path ?? ''}`, { user: 'alice' })
      expect(Buffer.from(await read.arrayBuffer()).equals(Buffer.from(inside[0]?.bytes ?? []))).toBe(true)

      const kept = await accepted(await postContent(svc, form(), { query: { 'wrap-with-directory': 'true' } }))
      expect(kept.pin).toMatchObject({ cid: wrapped.root.toString(), name: 'docs' })
      expect((await svc.request(`/ipfs/${kept.pin.cid}/docs`, { user: 'alice' })).status).toBe(200)
    }
  })

  it('refuses a wrap-with-directory that is not true or false, given twice, or on a body that is not a form',
    async () => {
      const f = new FormData()
      f.append('file', new Blob(['x']), 'a.txt')
      for (const query of [{ 'wrap-with-directory': 'yes' }, { 'wrap-with-directory': '' }]) {
        expect(await failureOf(await postContent(svc, f, { query }))).toMatchObject({
          status: 400, reason: 'BAD_REQUEST', details: expect.stringMatching(/^wrap-with-directory: give true or false/)
        })
      }
      const twice = await svc.request('/content?wrap-with-directory=true&wrap-with-directory=true', {
        method: 'POST', user: 'alice', body: f
      })
      expect((await failureOf(twice)).status).toBe(400)
      const raw = await postContent(svc, 'x', { type: 'text/plain', query: { 'wrap-with-directory': 'true' } })
      expect(await failureOf(raw)).toMatchObject({
        status: 400, details: expect.stringMatching(/only a form upload is wrapped/)
      })
    })

  it('takes wrap-with-directory as a form field before the files too, refusing it after them, twice, beside the ' +
    'query\'s, or with a bad value', async () => {
    // Old code: 400, "form field "wrap-with-directory" is not one of name, meta".
    const bytes = new TextEncoder().encode('quarterly numbers\n')
    const form = (...parts: Array<[string, string] | 'file'>): FormData => {
      const f = new FormData()
      for (const p of parts) {
        if (p === 'file') f.append('file', new Blob([bytes]), 'report.pdf')
        else f.append(p[0], p[1])
      }
      return f
    }
    const wrapped = (await directoryDag([{ path: 'report.pdf', bytes }])).root.toString()
    const itself = (await fileDag(bytes)).root.toString()
    const asked = await accepted(await postContent(svc, form(['wrap-with-directory', 'true'], 'file')))
    expect(asked.pin).toMatchObject({ cid: wrapped, name: 'report.pdf' })
    const no = await accepted(await postContent(svc, form(['name', 'Q3'], ['wrap-with-directory', 'false'], 'file')))
    expect(no.pin).toMatchObject({ cid: itself, name: 'Q3' })
    const refusals: Array<[FormData, Record<string, string> | undefined, RegExp]> = [
      [form(['wrap-with-directory', 'yes'], 'file'), undefined, /^wrap-with-directory: give true or false/],
      [form(['wrap-with-directory', ''], 'file'), undefined, /^wrap-with-directory: give true or false/],
      [form('file', ['wrap-with-directory', 'true']), undefined, /must come before the files/],
      [form(['wrap-with-directory', 'true'], ['wrap-with-directory', 'true'], 'file'), undefined, /given twice/],
      [form(['wrap-with-directory', 'true'], 'file'), { 'wrap-with-directory': 'true' }, /not both/]
    ]
    for (const [body, query, details] of refusals) {
      const res = await postContent(svc, body, query != null ? { query } : {})
      expect(await failureOf(res)).toMatchObject({ status: 400, reason: 'BAD_REQUEST', details })
    }
  })

  it('names a form\'s pin by the one file or folder it holds when given no name, as Pinata and IPFS Cluster do',
    async () => {
      // Old code: each was "(no name)". As `curl -F file=@report.pdf` sends it.
      const named = async (parts: Array<[string, string]>, query?: Record<string, string>): Promise<string | null> => {
        const form = new FormData()
        for (const [path, text] of parts) form.append('file', new Blob([text]), path)
        return (await accepted(await postContent(svc, form, query != null ? { query } : {}))).pin.name ?? null
      }
      expect(await named([['report.pdf', 'quarterly numbers']])).toBe('report.pdf')
      expect(await named([['site/index.html', '<p>hi'], ['site/css/app.css', 'p {}']])).toBe('site')
      // Several of them, a name given, or a file name POST /pins would refuse as a name: as before.
      expect(await named([['index.html', '<p>hi'], ['app.css', 'p {}']])).toBeNull()
      expect(await named([['report.pdf', 'quarterly numbers']], { name: 'Q3' })).toBe('Q3')
      expect(await named([['report\u202egnp.exe', 'not a png']])).toBeNull()
    })
})
