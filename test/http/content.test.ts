/**
 * POST /content against a real service: a raw file, a multipart folder and
 * CARs go in through HTTP and come out through GET /ipfs; CIDs are checked
 * against @helia/unixfs with kubo's settings, stored blocks against the
 * blockstore on disk.
 */
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import toBuffer from 'it-to-buffer'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { blocksOf, carOf, directoryDag, failureOf, fileDag, postContent, storedOf } from '../fixtures/content.js'

interface WirePinStatus {
  requestid: string
  status: string
  created: string
  pin: { cid: string, name?: string, meta?: Record<string, string>, origins?: string[] }
  delegates: string[]
  info: Record<string, string>
}

const MiB = 1024 * 1024

async function accepted (res: Response): Promise<WirePinStatus> {
  const text = await res.text()
  expect(res.status, text).toBe(202)
  return JSON.parse(text) as WirePinStatus
}

describe('POST /content', () => {
  let svc: TestService
  // No background sweeps: what a failed upload leaves must be gone because it cleaned up after itself.
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_GC_INTERVAL_MS: '3600000' } })
  })
  afterAll(async () => { await svc.destroy() })

  it('takes a 20 MiB file, pins it under kubo\'s CID, and serves it back whole and in ranges', async () => {
    const bytes = randomBytes(20 * MiB)
    const expected = await fileDag(bytes)
    const status = await accepted(await postContent(svc, bytes, {
      type: 'application/octet-stream', query: { name: 'big.bin', meta: JSON.stringify({ app: 'test' }) }
    }))
    expect(status).toMatchObject({
      status: 'pinned', pin: { cid: expected.root.toString(), name: 'big.bin', meta: { app: 'test' } }
    })
    expect(status.requestid).toMatch(/^[0-9a-f-]{36}$/)
    expect(status.delegates.length).toBeGreaterThan(0)
    const dagSize = (await blocksOf(expected)).reduce((n, b) => n + b.bytes.byteLength, 0)
    expect(status.info.dag_size).toBe(String(dagSize))
    // The request is an ordinary pin request of the caller, and only of the caller.
    const own = await (await svc.request(`/pins/${status.requestid}`, { user: 'alice' })).json() as WirePinStatus
    expect(own.status).toBe('pinned')
    expect((await svc.request(`/pins/${status.requestid}`, { user: 'bob' })).status).toBe(404)

    const whole = await svc.request(`/ipfs/${status.pin.cid}`, { user: 'alice' })
    expect(whole.status).toBe(200)
    expect(whole.headers.get('content-length')).toBe(String(bytes.byteLength))
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true)

    const start = 5 * MiB - 100
    const part = await svc.request(`/ipfs/${status.pin.cid}`,
      { user: 'alice', headers: { range: `bytes=${start}-${start + 999_999}` } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes ${start}-${start + 999_999}/${bytes.byteLength}`)
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(start, start + 1_000_000))).toBe(true)
  })

  it('gives small files the CID kubo gives them', async () => {
    // `echo 'hello world' | ipfs add --cid-version=1`
    const status = await accepted(await postContent(svc, 'hello world\n', { type: 'text/plain' }))
    expect(status.pin.cid).toBe('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
    const empty = await accepted(await postContent(svc, new Uint8Array(0)))
    expect(empty.pin.cid).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    expect(empty.info.dag_size).toBe('0')
  })

  it('turns a multipart folder into one directory with the CID @helia/unixfs computes, paths kept', async () => {
    const files = [
      { path: 'index.html', bytes: new TextEncoder().encode('<!doctype html><title>hi</title>') },
      { path: 'assets/data.bin', bytes: randomBytes(700 * 1024) },
      { path: 'assets/deep/notes.txt', bytes: new TextEncoder().encode('notes\n') },
      { path: 'README', bytes: new TextEncoder().encode('plain words\n') }
    ]
    const expected = await directoryDag(files)
    const form = new FormData()
    form.append('name', 'site')
    for (const f of files) form.append('file', new Blob([f.bytes]), f.path)
    form.append('meta', JSON.stringify({ team: 'web' }))
    const status = await accepted(await postContent(svc, form))
    expect(status).toMatchObject({
      status: 'pinned', pin: { cid: expected.root.toString(), name: 'site', meta: { team: 'web' } }
    })

    for (const f of files) {
      const res = await svc.request(`/ipfs/${status.pin.cid}/${f.path}`, { user: 'alice' })
      expect(res.status, f.path).toBe(200)
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(f.bytes)), f.path).toBe(true)
    }
    const listing = await (await svc.request(`/ipfs/${status.pin.cid}/assets`, { user: 'alice' })).json() as
      { entries: Array<{ name: string }> }
    expect(listing.entries.map(e => e.name).sort()).toEqual(['data.bin', 'deep'])
  })

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
      // A directory in the path, or an empty directory part, is a folder: wrapped as before.
      const bytes = new TextEncoder().encode('notes\n')
      const inFolder = await accepted(await postContent(svc, form('docs/notes.txt', bytes)))
      expect(inFolder.pin.cid).toBe((await directoryDag([{ path: 'docs/notes.txt', bytes }])).root.toString())
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

  it('pins each root of a complete CAR at once; a CAR of several roots answers {count, results}', async () => {
    const one = await fileDag(randomBytes(600 * 1024))
    const two = await directoryDag([
      { path: 'a.txt', bytes: new TextEncoder().encode('a') }, { path: 'b/c.txt', bytes: randomBytes(1000) }
    ])
    const car = await carOf([one.root, two.root], [...await blocksOf(one), ...await blocksOf(two)])
    const res = await postContent(svc, car, { type: 'application/vnd.ipld.car', query: { name: 'pair' } })
    const text = await res.text()
    expect(res.status, text).toBe(202)
    const body = JSON.parse(text) as { count: number, results: WirePinStatus[] }
    expect(body.count).toBe(2)
    expect(body.results.map(r => [r.pin.cid, r.status, r.pin.name]))
      .toEqual([[one.root.toString(), 'pinned', 'pair'], [two.root.toString(), 'pinned', 'pair']])
    const all = [...await blocksOf(one), ...await blocksOf(two)].map(b => b.cid)
    expect(await storedOf(svc, all)).toHaveLength(all.length)
    const c = await svc.request(`/ipfs/${two.root.toString()}/b/c.txt`, { user: 'bob' })
    expect(c.status).toBe(200)
  })

  it('refuses a CAR with one flipped byte (400) and keeps none of its blocks, but not the blocks other pins own',
    async () => {
      const shared = await fileDag(randomBytes(300 * 1024))
      await accepted(await postContent(svc, await carOf([shared.root], await blocksOf(shared)),
        { type: 'application/vnd.ipld.car' }))
      const fresh = await fileDag(randomBytes(900 * 1024))
      const freshBlocks = await blocksOf(fresh)
      const car = await carOf([fresh.root], [...await blocksOf(shared), ...freshBlocks])
      car.set([(car[car.byteLength - 7] as number) ^ 0x01], car.byteLength - 7) // inside the last block's bytes
      const failure = await failureOf(await postContent(svc, car, { type: 'application/vnd.ipld.car' }))
      expect(failure).toMatchObject({
        status: 400, reason: 'BAD_REQUEST', details: expect.stringMatching(/do not hash to its CID/)
      })
      expect(await storedOf(svc, freshBlocks.map(b => b.cid))).toEqual([])
      const sharedCids = (await blocksOf(shared)).map(b => b.cid)
      expect(await storedOf(svc, sharedCids)).toHaveLength(sharedCids.length)
      expect((await svc.request(`/ipfs/${shared.root.toString()}`, { user: 'alice' })).status).toBe(200)
    })

  it('refuses a truncated CAR (400) and keeps none of its blocks', async () => {
    const dag = await fileDag(randomBytes(800 * 1024))
    const blocks = await blocksOf(dag)
    const car = await carOf([dag.root], blocks)
    const failure = await failureOf(await postContent(svc, car.subarray(0, car.byteLength - 5000),
      { type: 'application/vnd.ipld.car' }))
    expect(failure).toMatchObject({
      status: 400, reason: 'BAD_REQUEST', details: expect.stringMatching(/not a valid CAR/)
    })
    expect(await storedOf(svc, blocks.map(b => b.cid))).toEqual([])
    const notCar = await failureOf(await postContent(svc, 'hello', { type: 'application/vnd.ipld.car' }))
    expect(notCar).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
  })

  it('refuses CARs with unsupported codecs or hashes, and blocks whose bytes do not decode', async () => {
    const { CID } = await import('multiformats/cid')
    const { create: createDigest } = await import('multiformats/hashes/digest')
    const odd = CID.createV1(0x0129 /* dag-json */, createDigest(0xb220 /* blake2b-256 */, new Uint8Array(32)))
    const badHash = await failureOf(await postContent(svc, await carOf([odd], []),
      { type: 'application/vnd.ipld.car' }))
    expect(badHash).toMatchObject({ status: 400, details: expect.stringMatching(/hash 0xb220/) })
    const { sha256 } = await import('multiformats/hashes/sha2')
    const junk = new TextEncoder().encode('not dag-pb')
    const fakePb = CID.createV1(0x70, await sha256.digest(junk))
    const undecodable = await failureOf(await postContent(svc, await carOf([fakePb], [{ cid: fakePb, bytes: junk }]),
      { type: 'application/vnd.ipld.car' }))
    expect(undecodable).toMatchObject({ status: 400, details: expect.stringMatching(/does not decode as dag-pb/) })
  })

  it('refuses bad uploads with a Failure body and the right status', async () => {
    const cases: Array<[string, () => Promise<Response>, number]> = [
      ['multipart/mixed', async () =>
        await postContent(svc, '--x\r\n\r\nhi\r\n--x--\r\n', { type: 'multipart/mixed; boundary=x' }), 415],
      ['form without boundary', async () => await postContent(svc, 'whatever', { type: 'multipart/form-data' }), 400],
      ['cut-off form', async () => await postContent(svc,
        '--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello',
        { type: 'multipart/form-data; boundary=x' }), 400],
      ['form without files', async () => {
        const f = new FormData(); f.append('name', 'x'); return await postContent(svc, f)
      }, 400],
      ['path with ..', async () => {
        const f = new FormData(); f.append('file', new Blob(['x']), '../etc/passwd'); return await postContent(svc, f)
      }, 400],
      ['same path twice', async () => {
        const f = new FormData(); f.append('file', new Blob(['x']), 'a.txt'); f.append('file', new Blob(['y']), 'a.txt')
        return await postContent(svc, f)
      }, 400],
      ['file and directory of one name', async () => {
        const f = new FormData(); f.append('file', new Blob(['x']), 'a'); f.append('file', new Blob(['y']), 'a/b')
        return await postContent(svc, f)
      }, 400],
      ['name twice (query and form)', async () => {
        const f = new FormData(); f.append('name', 'x'); f.append('file', new Blob(['y']), 'a')
        return await postContent(svc, f, { query: { name: 'y' } })
      }, 400],
      ['meta not JSON', async () => await postContent(svc, 'x', { query: { meta: '{nope' } }), 400],
      ['meta not strings', async () => await postContent(svc, 'x', { query: { meta: '{"a":1}' } }), 400],
      ['name too long', async () => await postContent(svc, 'x', { query: { name: 'n'.repeat(256) } }), 400],
      ['origins on a plain file', async () => await postContent(svc, 'x', {
        query: { origins: '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk' }
      }), 400],
      ['bad origin on a CAR', async () =>
        await postContent(svc, 'x', { type: 'application/vnd.ipld.car', query: { origins: '/ip4/1.2.3.4' } }), 400],
      ['compressed body', async () => await svc.request('/content', {
        method: 'POST', user: 'alice', body: 'x', headers: { 'content-encoding': 'gzip' }
      }), 415],
      ['GET /content', async () => await svc.request('/content', { user: 'alice' }), 405]
    ]
    for (const [what, send, status] of cases) {
      const failure = await failureOf(await send())
      expect(failure.status, `${what}: ${failure.details}`).toBe(status)
      expect(failure.contentType, what).toMatch(/^application\/json/)
      expect(failure.details.trim(), what).not.toBe('')
    }
    // None of them left a request behind.
    const page = await (await svc.request('/pins?status=queued,pinning,pinned,failed&name=x', { user: 'alice' }))
      .json() as { count: number }
    expect(page.count).toBe(0)
  })
})

describe('POST /content: a CAR that holds part of its DAG', () => {
  let svc: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await svc?.destroy()
    await origin?.stop()
    svc = origin = undefined
  })

  it('stores what it holds and fetches the rest over bitswap from the given origins', async () => {
    origin = await startOrigin()
    const { cid, bytes } = await origin.addRandomFile(2)
    const rootBlock = { cid, bytes: await toBuffer(origin.blockstore.get(cid)) }
    svc = await startService({ users: ['alice'] })
    const created = await accepted(await postContent(svc, await carOf([cid], [rootBlock]),
      { type: 'application/vnd.ipld.car', query: { origins: origin.addrs.join(',') } }))
    expect(created.pin.origins).toEqual(origin.addrs)
    expect(['queued', 'pinning', 'pinned']).toContain(created.status)
    const service = svc
    const settled = await waitFor(async () => {
      const s = await (await service.request(`/pins/${created.requestid}`, { user: 'alice' })).json() as WirePinStatus
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 30_000, 'the CAR\'s pin to settle')
    expect(settled.status).toBe('pinned')
    await origin.stop()
    origin = undefined
    const read = await svc.request(`/ipfs/${cid.toString()}`, { user: 'alice' })
    expect(Buffer.from(await read.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
  })
})

describe('POST /content and quotas', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({
      users: ['carol', 'dave', 'erin'],
      quotas: { carol: { bytes: 300_000 }, dave: { pins: 1 } },
      env: { PINERY_GC_INTERVAL_MS: '3600000' }
    })
  })
  afterAll(async () => { await svc.destroy() })

  it('refuses a file larger than the room left before reading it (409), storing nothing', async () => {
    const bytes = randomBytes(400_000)
    const failure = await failureOf(await postContent(svc, bytes, { user: 'carol' }))
    // Sizes as the Usage page shows them, the exact count beside (old code: "the 300000 bytes left").
    expect(failure).toMatchObject({
      status: 409,
      reason: 'INSUFFICIENT_FUNDS',
      details: 'storage quota exceeded: the DAG of 391 KiB (400,000 bytes) does not fit in the 293 KiB ' +
        '(300,000 bytes) left of user carol\'s 293 KiB (300,000 bytes) quota'
    })
    const cids = (await blocksOf(await fileDag(bytes))).map(b => b.cid)
    expect(await storedOf(svc, cids)).toEqual([])
  })

  it('answers a declared-too-large file without waiting for its body', async () => {
    // 10 MB declared, 1 kB sent: only an answer given before reading can arrive.
    const url = new URL('/content', svc.url)
    const answer = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const headers = { authorization: `Bearer ${svc.tokens.carol ?? ''}`, 'content-length': String(10_000_000) }
      const req = httpRequest(url, { method: 'POST', headers }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => { body += d.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      })
      req.on('error', reject)
      req.write(randomBytes(1000))
      setTimeout(() => { req.destroy(); reject(new Error('no answer within 5 s')) }, 5000).unref()
    })
    expect(answer.status).toBe(409)
    expect(JSON.parse(answer.body)).toMatchObject({ error: { reason: 'INSUFFICIENT_FUNDS' } })
  })

  it('charges a CAR the size of its whole DAG, blocks stored already included (409), pinning nothing', async () => {
    // erin (no quota) pins 500 kB; carol sends a CAR of just its root block.
    const dag = await fileDag(randomBytes(500_000))
    const blocks = await blocksOf(dag)
    await accepted(await postContent(svc, await carOf([dag.root], blocks),
      { user: 'erin', type: 'application/vnd.ipld.car' }))
    const root = blocks.find(b => b.cid.equals(dag.root))
    if (root == null) throw new Error('no root block')
    const failure = await failureOf(await postContent(svc, await carOf([dag.root], [root]),
      { user: 'carol', type: 'application/vnd.ipld.car' }))
    expect(failure).toMatchObject({
      status: 409, reason: 'INSUFFICIENT_FUNDS', details: expect.stringMatching(/storage quota exceeded/)
    })
    const page = await (await svc.request('/pins?status=queued,pinning,pinned,failed', { user: 'carol' }))
      .json() as { count: number }
    expect(page.count).toBe(0)
    // erin's pin is whole still.
    expect(await storedOf(svc, blocks.map(b => b.cid))).toHaveLength(blocks.length)
  })

  it('stops a body of unknown length once it outgrows the room (409), and keeps none of it', async () => {
    const bytes = randomBytes(1 * MiB)
    const body = new ReadableStream<Uint8Array>({
      start (controller) {
        for (let at = 0; at < bytes.byteLength; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024))
        controller.close()
      }
    })
    const res = await svc.request('/content',
      { method: 'POST', user: 'carol', body, duplex: 'half' } as RequestInit & { user: string })
    expect(await failureOf(res)).toMatchObject({
      status: 409,
      reason: 'INSUFFICIENT_FUNDS',
      details: 'storage quota exceeded: the upload grew past the 293 KiB (300,000 bytes) left of the quota'
    })
    const cids = (await blocksOf(await fileDag(bytes))).map(b => b.cid)
    expect(await storedOf(svc, cids)).toEqual([])
    const page = await (await svc.request('/pins?status=queued,pinning,pinned,failed', { user: 'carol' }))
      .json() as { count: number }
    expect(page.count).toBe(0)
  })

  it('refuses a CAR whose DAG does not fit (409), keeping none of it; one that fits is pinned', async () => {
    const big = await fileDag(randomBytes(500_000))
    const bigBlocks = await blocksOf(big)
    expect(await failureOf(await postContent(svc, await carOf([big.root], bigBlocks),
      { user: 'carol', type: 'application/vnd.ipld.car' })))
      .toMatchObject({ status: 409, reason: 'INSUFFICIENT_FUNDS' })
    expect(await storedOf(svc, bigBlocks.map(b => b.cid))).toEqual([])
    const small = await fileDag(randomBytes(200_000))
    expect((await accepted(await postContent(svc, await carOf([small.root], await blocksOf(small)),
      { user: 'carol', type: 'application/vnd.ipld.car' }))).status).toBe('pinned')
    // 200 kB of 300 kB used: another 200 kB file no longer fits.
    expect(await failureOf(await postContent(svc, randomBytes(200_000), { user: 'carol' })))
      .toMatchObject({ status: 409, reason: 'INSUFFICIENT_FUNDS' })
  })

  it('counts uploads against the pin limit', async () => {
    await accepted(await postContent(svc, 'first', { user: 'dave' }))
    const failure = await failureOf(await postContent(svc, 'second', { user: 'dave' }))
    expect(failure).toMatchObject({
      status: 409, reason: 'INSUFFICIENT_FUNDS', details: expect.stringMatching(/pin limit/)
    })
  })
})

describe('POST /content and timeouts', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({
      users: ['alice'], env: { PINERY_REQUEST_TIMEOUT_MS: '1000', PINERY_GC_INTERVAL_MS: '3600000' }
    })
  })
  afterAll(async () => { await svc.destroy() })

  it('ends an upload whose bytes stop arriving with 408, and keeps none of it', async () => {
    // More than the importer batches (8 chunks of 256 KiB) before it writes, so blocks are stored.
    const first = randomBytes(3 * MiB)
    let stall: (() => void) | undefined
    const body = new ReadableStream<Uint8Array>({
      start (controller) { controller.enqueue(first); stall = () => { controller.close() } }
    })
    const res = await svc.request('/content',
      { method: 'POST', user: 'alice', body, duplex: 'half' } as RequestInit & { user: string })
    expect(await failureOf(res)).toMatchObject({ status: 408, reason: 'REQUEST_TIMEOUT' })
    stall?.()
    const cids = (await blocksOf(await fileDag(first))).map(b => b.cid)
    expect(await storedOf(svc, cids)).toEqual([])
  })
})
