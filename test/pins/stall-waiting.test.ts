/**
 * The stall timeout counts time a fetch waits for peers, not for Pinery's own block-request slots: a pin whose
 * origin has every block, behind its owner's fetches that stall, pins once they have failed, and does not fail
 * with "no connected peer provided the next block". Real service, real Helia origin.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { addRootsOnly, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { addPin, getPin, listPins } from '../fixtures/pins-api.js'

describe('the stall timeout', () => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
    service = origin = undefined
  })

  it('does not run while a fetch waits for a block-request slot, only while it asks peers', async () => {
    origin = await startOrigin()
    const o = origin
    // 20 fetches that stall (4 leaves the origin lacks each, 80 block requests for the 4 slots), then a DAG the
    // origin has whole, from the same user: its requests wait behind the 80 in the user's lane, ~20 s a round.
    const stalling = await addRootsOnly(o, 20)
    const { cid } = await o.addRandomFile(1)
    service = await startService({
      users: ['alice'],
      env: {
        PINERY_PIN_CONCURRENCY: '22',
        PINERY_FETCH_CONCURRENCY: '4',
        PINERY_REWANT_AFTER_MS: '1000',
        PINERY_STALL_TIMEOUT_MS: '2000'
      }
    })
    const svc = service
    for (const c of stalling) await addPin(svc, 'alice', { cid: c.toString(), origins: o.addrs })
    const fetching = async (): Promise<number> => (await listPins(svc, 'alice', 'status=pinning&limit=1')).count
    await waitFor(async () => await fetching() === 20 ? true : undefined, 10_000, 'alice to fetch all 20')
    const { requestid } = await addPin(svc, 'alice', { cid: cid.toString(), origins: o.addrs })
    const settled = await waitFor(async () => {
      const s = await getPin(svc, 'alice', requestid)
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 60_000, 'the pin to settle')
    // Old code: failed after 2 s, "no progress for 2 s: no connected peer provided the next block", its
    // requests never sent.
    expect(settled.info?.status_details ?? '').toBe('')
    expect(settled.status).toBe('pinned')
    // The stalled ones fail too, each after 2 s of its own requests out unanswered (4 slots among 20 fetches:
    // each has one out about a fifth of the time, so they take longer than 2 s).
    const failed = await waitFor(async () => {
      const page = await listPins(svc, 'alice', 'status=failed&limit=1000')
      return page.count === 20 ? page : undefined
    }, 60_000, 'the stalled fetches to fail')
    for (const s of failed.results) expect(s.info?.status_details).toMatch(/^no progress for 2 s: /)
  })
})
