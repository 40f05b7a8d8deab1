/**
 * Uploads in progress per user are bounded: each holds its blocks in memory
 * until it settles, and the per-upload block limit alone let one member send
 * any number of large uploads at once.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_UPLOADS_PER_USER } from '../../src/http/content-routes.js'
import { startService, type TestService } from '../fixtures/service.js'

describe('uploads in progress per user', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice', 'bob'] }) })
  afterAll(async () => { await svc.destroy() })

  /** Starts an upload whose body keeps coming until `finish()`. */
  function slowUpload (user: string): { answer: Promise<Response>, finish(): void } {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>({
      start (c) { controller = c; c.enqueue(randomBytes(64 * 1024)) }
    })
    const answer = svc.request('/content', {
      method: 'POST', user, body, headers: { 'content-type': 'application/octet-stream' }, duplex: 'half'
    } as RequestInit & { user: string })
    return { answer, finish: () => { controller.enqueue(randomBytes(1024)); controller.close() } }
  }

  it(`answers 429 to the ${MAX_UPLOADS_PER_USER + 1}th at once, and takes one again when one ends`, async () => {
    const running = Array.from({ length: MAX_UPLOADS_PER_USER }, () => slowUpload('alice'))
    // Until the route has counted them all: each answers only when its body ends.
    await new Promise(resolve => setTimeout(resolve, 500))
    const refused = await svc.request('/content', {
      method: 'POST', user: 'alice', body: randomBytes(1000), headers: { 'content-type': 'application/octet-stream' }
    })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('10')
    expect((await refused.json() as { error: { reason: string } }).error.reason).toBe('TOO_MANY_REQUESTS')
    // Another user is not affected.
    const other = await svc.request('/content', {
      method: 'POST', user: 'bob', body: randomBytes(1000), headers: { 'content-type': 'application/octet-stream' }
    })
    expect(other.status).toBe(202)

    running[0]?.finish()
    expect((await running[0]?.answer)?.status).toBe(202)
    const again = await svc.request('/content', {
      method: 'POST', user: 'alice', body: randomBytes(1000), headers: { 'content-type': 'application/octet-stream' }
    })
    expect(again.status).toBe(202)
    for (const u of running.slice(1)) u.finish()
    for (const u of running.slice(1)) expect((await u.answer).status).toBe(202)
  }, 60_000)
})
