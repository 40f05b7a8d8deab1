/**
 * POST /content of plain files and folders against a real service: a raw file and a multipart folder go in
 * through HTTP and come out through GET /ipfs; CIDs are checked against @helia/unixfs with kubo's settings.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { MiB, blocksOf, directoryDag, fileDag, postContent } from '../fixtures/content.js'
import { accepted, type WirePinStatus } from '../fixtures/pins-api.js'

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
})
