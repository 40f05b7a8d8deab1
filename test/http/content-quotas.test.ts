/**
 * POST /content against quotas on a real service: a file, a body of unknown length and a CAR refused (409) when
 * they do not fit, keeping none of their blocks; uploads counted against the pin limit.
 */
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { MiB, blocksOf, carOf, failureOf, fileDag, postContent, storedOf } from '../fixtures/content.js'
import { accepted } from '../fixtures/pins-api.js'

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
