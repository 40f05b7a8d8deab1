/**
 * POST /content refusals against a real service: each bad upload a clear 4xx with the Failure body and no request
 * left behind, and an upload whose bytes stop arriving ended with 408, keeping none of it.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { MiB, blocksOf, failureOf, fileDag, postContent, storedOf } from '../fixtures/content.js'

describe('POST /content: refusals', () => {
  let svc: TestService
  // No background sweeps: what a failed upload leaves must be gone because it cleaned up after itself.
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_GC_INTERVAL_MS: '3600000' } })
  })
  afterAll(async () => { await svc.destroy() })

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
