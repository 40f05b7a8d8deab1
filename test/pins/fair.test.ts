/**
 * Fair sharing between users, with real transfers: one user's backlog of
 * unobtainable CIDs (each holding a worker slot until it stalls) does not
 * hold up another user's pin, nor do its wide fetches take every block request in turn before another
 * user's fetch gets one, and pending requests per user are capped.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { addRootsOnly, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

/** A CID nobody has: its pin holds a slot until the stall timeout. */
async function missingCid (): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
}

async function pin (svc: TestService, user: string, body: Record<string, unknown>): Promise<Response> {
  return await svc.request('/pins', {
    method: 'POST', user, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
  })
}

describe('fair sharing between users', () => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
    service = origin = undefined
  })

  it("one user's stalling backlog in every slot does not delay another user's pin", async () => {
    const STALL_MS = 6000
    origin = await startOrigin()
    const { cid } = await origin.addRandomFile(1)
    service = await startService({
      users: ['alice', 'bob'], env: { PINERY_PIN_CONCURRENCY: '3', PINERY_STALL_TIMEOUT_MS: String(STALL_MS) }
    })
    const svc = service
    // alice queues 30 pins nobody can provide: they would take ten stall timeouts to clear.
    for (let i = 0; i < 30; i++) expect((await pin(svc, 'alice', { cid: await missingCid() })).status).toBe(202)
    await waitFor(async () => {
      const page = await (await svc.request('/pins?status=pinning&limit=1', { user: 'alice' })).json() as {
        count: number
      }
      return page.count >= 2 ? true : undefined
    }, 5000, 'alice to hold slots')
    const started = Date.now()
    const res = await pin(svc, 'bob', { cid: cid.toString(), origins: origin.addrs })
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    const settled = await waitFor(async () => {
      const s = await (await svc.request(`/pins/${requestid}`, { user: 'bob' })).json() as { status: string }
      return s.status === 'pinned' || s.status === 'failed' ? s.status : undefined
    }, 60_000, "bob's pin")
    expect(settled).toBe('pinned')
    // Within one stall timeout: bob never waited for alice's slots to free up (before fair
    // scheduling he waited for all 30, ten stall timeouts).
    expect(Date.now() - started).toBeLessThan(STALL_MS * 0.75)
  })

  it("one user's wide fetches waiting for block requests do not make another user's fetch wait behind them",
    async () => {
      origin = await startOrigin()
      // alice's DAGs: roots the origin has, four leaves it does not (each request holds its block-request slot
      // until re-wanted, 1 s); 20 fetches keep 4 requests each waiting for the 4 slots. bob's: a root and a leaf.
      const dags = await addRootsOnly(origin, 20)
      const small = await origin.addFile(randomBytes(1000))
      service = await startService({
        users: ['alice', 'bob'],
        env: { PINERY_PIN_CONCURRENCY: '21', PINERY_FETCH_CONCURRENCY: '4', PINERY_REWANT_AFTER_MS: '1000' }
      })
      const svc = service
      for (const cid of dags) {
        expect((await pin(svc, 'alice', { cid: cid.toString(), origins: origin.addrs })).status).toBe(202)
      }
      await waitFor(async () => {
        const page = await (await svc.request('/pins?status=pinning&limit=1', { user: 'alice' })).json() as {
          count: number
        }
        return page.count === 20 ? true : undefined
      }, 10_000, 'alice to fetch all 20')
      const started = Date.now()
      const res = await pin(svc, 'bob', { cid: small.toString(), origins: origin.addrs })
      const { requestid } = await res.json() as { requestid: string }
      await waitFor(async () => {
        const s = await (await svc.request(`/pins/${requestid}`, { user: 'bob' })).json() as { status: string }
        return s.status === 'pinned' ? true : undefined
      }, 60_000, "bob's pin")
      // Each of bob's two blocks is wanted at the next slot freed (old code: behind alice's ~76 waiting
      // requests, ~19 re-want rounds each).
      expect(Date.now() - started).toBeLessThan(5_000)
    })

  it('gives the slots an owner with only running work leaves to the owners with queued work, fairly', async () => {
    service = await startService({
      users: ['alice', 'bob', 'carol'], env: { PINERY_PIN_CONCURRENCY: '4', PINERY_STALL_TIMEOUT_MS: '120000' }
    })
    const svc = service
    const pending = async (user: string): Promise<Array<{ requestid: string, details: string }>> =>
      ((await (await svc.request('/pins?status=queued,pinning', { user })).json() as {
        results: Array<{ requestid: string, info?: { status_details?: string } }>
      }).results).map(r => ({ requestid: r.requestid, details: r.info?.status_details ?? '' }))
    const running = async (user: string): Promise<string[]> =>
      (await pending(user)).filter(r => !/queue position/.test(r.details)).map(r => r.requestid)
    // bob's one pin (no peer has it) runs, with nothing of his queued.
    expect((await pin(svc, 'bob', { cid: await missingCid() })).status).toBe(202)
    for (let i = 0; i < 8; i++) expect((await pin(svc, 'alice', { cid: await missingCid() })).status).toBe(202)
    // alice takes the three slots bob does not use (never all four). Old code: two, one slot idle.
    expect(await running('alice')).toHaveLength(3)
    // carol's backlog waits for a slot; the next two freed go to her, not back to alice: equal shares of the
    // slots bob does not hold, then of all four once his pin is gone.
    for (let i = 0; i < 8; i++) expect((await pin(svc, 'carol', { cid: await missingCid() })).status).toBe(202)
    expect(await running('carol')).toHaveLength(0)
    const [first] = await running('alice')
    expect((await svc.request(`/pins/${first}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
    await waitFor(async () => (await running('carol')).length === 1 ? true : undefined, 5000, "carol's first slot")
    const [bobs] = await running('bob')
    expect((await svc.request(`/pins/${bobs}`, { method: 'DELETE', user: 'bob' })).status).toBe(202)
    await waitFor(async () => (await running('carol')).length === 2 ? true : undefined, 5000, "carol's second slot")
    expect(await running('alice')).toHaveLength(2)
  })

  it("a queued request's position counts turns, not the other user's backlog", async () => {
    service = await startService({
      users: ['alice', 'bob'], env: { PINERY_PIN_CONCURRENCY: '2', PINERY_STALL_TIMEOUT_MS: '60000' }
    })
    for (let i = 0; i < 20; i++) await pin(service, 'alice', { cid: await missingCid() })
    const res = await pin(service, 'bob', { cid: await missingCid() })
    const status = await res.json() as { info?: { status_details?: string } }
    // bob took the slot alice may not have: its fetch runs at once.
    expect(status.info?.status_details ?? '').not.toMatch(/queue position/)
    const second = await (await pin(service, 'bob', { cid: await missingCid() })).json() as {
      info?: { status_details?: string }
    }
    expect(second.info?.status_details).toMatch(/^queue position (1|2) of 20$/)
  })
})

describe('pending requests per user', () => {
  let service: TestService | undefined
  afterEach(async () => { await service?.destroy(); service = undefined })

  it('refuses a request past PINERY_MAX_PENDING_PER_USER with 409, even when many arrive at once', async () => {
    service = await startService({
      users: ['alice', 'bob'], env: { PINERY_MAX_PENDING_PER_USER: '5', PINERY_STALL_TIMEOUT_MS: '60000' }
    })
    const svc = service
    const cids = await Promise.all(Array.from({ length: 20 }, async () => await missingCid()))
    const answers = await Promise.all(cids.map(async cid => await pin(svc, 'alice', { cid })))
    expect(answers.filter(r => r.status === 202)).toHaveLength(5)
    const refused = answers.filter(r => r.status === 409)
    expect(refused).toHaveLength(15)
    const body = await refused[0]?.json() as { error: { reason: string, details: string } }
    expect(body.error.reason).toBe('TOO_MANY_PENDING')
    expect(body.error.details).toMatch(/5 requests queued or pinning/)
    // Other users are not affected, and a pinned CID does not count.
    expect((await pin(svc, 'bob', { cid: await missingCid() })).status).toBe(202)
    const list = await (await svc.request('/pins?status=queued,pinning', { user: 'alice' })).json() as {
      count: number
      results: Array<{ requestid: string }>
    }
    expect(list.count).toBe(5)
    // Once one goes, there is room for one more.
    expect((await svc.request(`/pins/${list.results[0]?.requestid}`, { method: 'DELETE', user: 'alice' })).status)
      .toBe(202)
    expect((await pin(svc, 'alice', { cid: await missingCid() })).status).toBe(202)
    expect((await pin(svc, 'alice', { cid: await missingCid() })).status).toBe(409)
  })
  it('counts requests resumed at start against PINERY_MAX_PENDING_PER_USER, so the queue only grows by admission',
    async () => {
      const env = { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000' }
      service = await startService({ users: ['alice'], env: { ...env, PINERY_MAX_PENDING_PER_USER: '3' } })
      for (let i = 0; i < 3; i++) expect((await pin(service, 'alice', { cid: await missingCid() })).status).toBe(202)
      const dataDir = service.dataDir
      await service.stop()
      // Restarted with a lower cap: all three resume (none is dropped), and they hold the cap.
      service = await startService({ dataDir, users: ['alice'], env: { ...env, PINERY_MAX_PENDING_PER_USER: '2' } })
      const svc = service
      const pending = async (): Promise<Array<{ requestid: string, info?: { status_details?: string } }>> =>
        (await (await svc.request('/pins?status=queued,pinning', { user: 'alice' })).json() as { results: [] }).results
      const resumed = await pending()
      expect(resumed).toHaveLength(3)
      expect(resumed.filter(r => /^queue position \d of 2$/.test(r.info?.status_details ?? ''))).toHaveLength(2)
      const refused = await pin(svc, 'alice', { cid: await missingCid() })
      expect(refused.status).toBe(409)
      expect((await refused.json() as { error: { details: string } }).error.details)
        .toMatch(/3 requests queued or pinning/)
      // Two go: one resumed request is left, under the cap of two, so there is room for one more.
      for (const { requestid } of resumed.slice(0, 2)) {
        expect((await svc.request(`/pins/${requestid}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
      }
      expect((await pin(svc, 'alice', { cid: await missingCid() })).status).toBe(202)
      expect((await pin(svc, 'alice', { cid: await missingCid() })).status).toBe(409)
    })
})
