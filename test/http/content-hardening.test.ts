/**
 * Uploads and reads against what a hostile or unlucky client can do: an
 * identity root linking to unpinned blocks, a non-UnixFS pinned block, junk
 * form fields, a CARv2 asking to skip a huge span, an upload outliving its
 * user's deletion, and garbage collection sweeping while uploads fail.
 */
import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blocksOf, carOf, failureOf, fileDag, postContent, storedOf } from '../fixtures/content.js'
import { startService, type TestService } from '../fixtures/service.js'

const slowBody = (bytes: Uint8Array, pauseMs: number): ReadableStream<Uint8Array> => new ReadableStream<Uint8Array>({
  async start (c) {
    for (let at = 0; at < bytes.byteLength; at += 256 * 1024) {
      c.enqueue(bytes.subarray(at, at + 256 * 1024))
      await new Promise(resolve => setTimeout(resolve, pauseMs))
    }
    c.close()
  }
})

describe('content hardening', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_GC_INTERVAL_MS: '3600000' } })
  })
  afterAll(async () => { await svc.destroy() })

  it('an identity root cannot reach blocks nobody pins', async () => {
    const bytes = randomBytes(5000)
    const st = await (await postContent(svc, bytes)).json() as { requestid: string, pin: { cid: string } }
    const cid = CID.parse(st.pin.cid)
    await svc.request(`/pins/${st.requestid}`, { method: 'DELETE' })
    expect(await storedOf(svc, [cid])).toHaveLength(1) // not collected yet
    const node = dagPb.encode({
      Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: 'x', Hash: cid, Tsize: 5000 }]
    })
    const wrapper = CID.createV1(dagPb.code, identity.digest(node))
    for (const path of [`/ipfs/${wrapper.toString()}/x`, `/ipfs/${wrapper.toString()}?format=car`]) {
      expect((await failureOf(await svc.request(path))).status, path).toBe(404)
    }
    // A raw identity CID is its own content: it answers while a pin request names it.
    const hi = CID.createV1(raw.code, identity.digest(new TextEncoder().encode('hi')))
    expect((await failureOf(await svc.request(`/ipfs/${hi.toString()}`))).status).toBe(404)
    expect((await svc.call('POST', '/pins', 'admin', { cid: hi.toString() })).status).toBe(202)
    expect(await (await svc.request(`/ipfs/${hi.toString()}`)).text()).toBe('hi')
  })

  it('serves a pinned block that is not UnixFS as raw, as a CAR and as is', async () => {
    const leaf = randomBytes(100)
    const leafCid = CID.createV1(raw.code, await sha256.digest(leaf))
    const node = dagPb.encode({ Links: [{ Name: 'a', Hash: leafCid, Tsize: 100 }] })
    const cid = CID.createV1(dagPb.code, await sha256.digest(node))
    const upload = await carOf([cid], [{ cid, bytes: node }, { cid: leafCid, bytes: leaf }])
    expect((await postContent(svc, upload, { type: 'application/vnd.ipld.car' })).status).toBe(202)
    const rawRes = await svc.request(`/ipfs/${cid.toString()}?format=raw`)
    expect(Buffer.from(await rawRes.arrayBuffer()).equals(Buffer.from(node))).toBe(true)
    const car = await svc.request(`/ipfs/${cid.toString()}?format=car`)
    expect(car.status).toBe(200)
    expect((await car.arrayBuffer()).byteLength).toBeGreaterThan(node.byteLength + leaf.byteLength)
    expect((await svc.request(`/ipfs/${cid.toString()}`)).status).toBe(200)
  })

  it('refuses form fields other than name and meta', async () => {
    const form = new FormData()
    form.append('junk', 'x'.repeat(1000))
    form.append('file', new Blob([randomBytes(10)]), 'a.bin')
    const failure = await failureOf(await svc.request('/content', { method: 'POST', body: form }))
    expect(failure).toMatchObject({
      status: 400,
      reason: 'BAD_REQUEST',
      details: expect.stringContaining('form field "junk" is not one of name, meta')
    })
  })

  it('refuses a CARv2 that asks to skip a huge span, without reading on', async () => {
    const pragma = Uint8Array.from([0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02])
    const header = new Uint8Array(40)
    const view = new DataView(header.buffer)
    view.setBigUint64(16, 2n ** 50n, true) // data offset
    view.setBigUint64(24, 100n, true) // data size
    view.setBigUint64(32, 0n, true) // index offset
    const failure = await failureOf(await postContent(svc, Buffer.concat([pragma, header, new Uint8Array(4096)]),
      { type: 'application/vnd.ipld.car' }))
    expect(failure).toMatchObject({ status: 400, details: expect.stringContaining('skip') })
  })

  it('an upload that outlives its user leaves no request behind', async () => {
    await svc.request('/users',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"dave"}' })
    const { secret } = await (await svc.request('/users/dave/tokens',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as { secret: string }
    const upload = svc.request('/content', {
      method: 'POST', user: secret, body: slowBody(randomBytes(2 * 1024 * 1024), 100), duplex: 'half'
    } as RequestInit & { user: string })
    await new Promise(resolve => setTimeout(resolve, 300))
    expect((await svc.request('/users/dave?remove_pins=true', { method: 'DELETE' })).status).toBe(200)
    expect((await upload).status).toBe(401)
    await svc.request('/users',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"dave"}' })
    const again = await (await svc.request('/users/dave')).json() as { usage: { pins: Record<string, number> } }
    expect(again.usage.pins).toEqual({ queued: 0, pinning: 0, pinned: 0, failed: 0 })
  })

  it('sweeps running while an upload fails never break a collection nor touch a pinned DAG', async () => {
    let stop = false
    const errors: unknown[] = []
    const sweeps: Array<{ start: number, end: number }> = []
    const sweeper = (async () => {
      while (!stop) {
        svc.pinery.gc.markDirty()
        const start = performance.now()
        try { await svc.pinery.gc.collect() } catch (err) { errors.push(err) }
        sweeps.push({ start, end: performance.now() })
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()
    const bytes = randomBytes(4 * 1024 * 1024)
    const dag = await fileDag(bytes)
    const blocks = await blocksOf(dag)
    const car = await carOf([dag.root], blocks)
    car[car.byteLength - 3] = (car[car.byteLength - 3] as number) ^ 1
    const uploading = performance.now()
    const [good, bad] = await Promise.all([
      svc.request('/content',
        { method: 'POST', user: 'alice', body: slowBody(bytes, 30), duplex: 'half' } as RequestInit & { user: string }),
      postContent(svc, car, { user: 'bob', type: 'application/vnd.ipld.car' })
    ])
    const uploaded = performance.now()
    stop = true
    await sweeper
    expect([good.status, bad.status]).toEqual([202, 400])
    expect(errors).toEqual([])
    // The race happened: whole sweeps ran while the uploads were in flight.
    expect(sweeps.filter(s => s.start >= uploading && s.end <= uploaded).length).toBeGreaterThanOrEqual(1)
    expect(await storedOf(svc, blocks.map(b => b.cid))).toHaveLength(blocks.length)
  })
})
