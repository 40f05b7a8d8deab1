/**
 * How many deliveries a webhook keeps in flight under a burst. Each lane
 * sends at most `concurrency` entries (one per request) per gather; at 128
 * and a 50 ms gather that carried ~2,300 POSTs a second per webhook, below
 * bench:events' peak of ~2,900 events a second, so deliveries fell seconds
 * behind pinning (round eight, RESULTS.md). A receiver that reads every
 * request and answers none shows how many are in flight at once: with 300
 * requests' first events waiting, more than 128 must arrive.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, until, type TestService } from '../fixtures/service.js'

const json = { 'content-type': 'application/json' }
const REQUESTS = 300

describe('webhook deliveries in flight', () => {
  let service: TestService
  let server: Server
  let port = 0
  /** What each connection sent (never answered). */
  const sockets = new Map<Socket, string>()
  /** Request lines received over every connection (pipelined: a request line follows the last body). */
  const posts = (): number =>
    [...sockets.values()].reduce((n, text) => n + (text.match(/POST \/hook HTTP\/1\.1\r\n/g) ?? []).length, 0)

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.set(socket, '')
      socket.on('error', () => {})
      socket.on('data', (chunk) => { sockets.set(socket, (sockets.get(socket) ?? '') + chunk.toString('latin1')) })
    })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    port = (server.address() as { port: number }).port
    service = await startService({
      // No timeout (and so no retry) within the test: every request seen is a first attempt.
      env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1', PINERY_WEBHOOK_TIMEOUT_MS: '120000' }
    })
  })
  afterAll(async () => {
    await service?.destroy()
    for (const socket of sockets.keys()) socket.destroy()
    await new Promise(resolve => server?.close(resolve))
  })

  it('keeps more than 128 deliveries of different requests in flight to one webhook', async () => {
    const created = await service.request('/webhooks', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook`, events: ['pin.queued'] })
    })
    expect(created.status).toBe(201)
    for (let i = 0; i < REQUESTS; i++) {
      const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
      const res = await service.request('/pins', { method: 'POST', headers: json, body: JSON.stringify({ cid }) })
      expect(res.status).toBe(202)
    }
    // Each request has one pin.queued: all of them can be in flight at once (no two of one request).
    await until(() => posts() >= REQUESTS ? true : undefined, `all ${REQUESTS} first deliveries in flight`, 15_000)
    expect(posts()).toBe(REQUESTS)
  })
})
