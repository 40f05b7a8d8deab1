/**
 * GET /pins?status=…: needs one pin in each state at the same time.
 * Part of the conformance tests with the IPFS Pinning Service API v1.0.0; what they share and how they
 * pin is in test/fixtures/pins-api.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Status } from '@ipfs-shipyard/pinning-service-client'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import {
  ALL_STATUSES, instantCid, missingCid, addPin, getPin, listPins, ids, expectPinStatusShape, type WirePinStatus
} from '../fixtures/pins-api.js'

describe('GET /pins by status', () => {
  // With one worker and a 2 s stall timeout: `failed` is a pin that stalled,
  // `pinning` is the one the worker took next, `queued` waits behind it. The
  // tests below run inside the ~2 s before `pinning` stalls too; the last test
  // checks that window held.
  const STALL_MS = 2000
  let svc: TestService
  let pinned1: WirePinStatus, pinned2: WirePinStatus, failed: WirePinStatus
  let pinning: WirePinStatus, queued: WirePinStatus
  let bobPinned: WirePinStatus, bobQueued: WirePinStatus

  beforeAll(async () => {
    svc = await startService({
      users: ['alice', 'bob'],
      env: { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: String(STALL_MS) }
    })
    pinned1 = await addPin(svc, 'alice', { cid: instantCid().toString() })
    pinned2 = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'other' })
    failed = await addPin(svc, 'alice', { cid: (await missingCid()).toString() })
    failed = await waitFor(async () => {
      const s = await getPin(svc, 'alice', failed.requestid)
      return s.status === 'failed' ? s : undefined
    }, STALL_MS * 5, 'the first missing CID to fail')
    pinning = await addPin(svc, 'alice', { cid: (await missingCid()).toString() })
    queued = await addPin(svc, 'alice', { cid: (await missingCid()).toString(), name: 'mfs-policy' })
    bobPinned = await addPin(svc, 'bob', { cid: pinned1.pin.cid, name: 'other' })
    bobQueued = await addPin(svc, 'bob', { cid: (await missingCid()).toString(), name: 'mfs-policy' })
    pinning = await waitFor(async () => {
      const s = await getPin(svc, 'alice', pinning.requestid)
      return s.status === 'pinning' ? s : undefined
    }, STALL_MS, 'the second missing CID to be pinning')
    queued = await getPin(svc, 'alice', queued.requestid)
  })
  afterAll(async () => { await svc?.destroy() })

  it('each state has a PinStatus with string info', () => {
    for (const s of [pinned1, failed, pinning, queued]) expectPinStatusShape(s, svc)
    expect(queued.status).toBe('queued')
    expect(failed.info?.status_details).toEqual(expect.any(String))
    expect(queued.info?.status_details).toEqual(expect.any(String))
  })

  it('without a status filter lists pinned pins only', async () => {
    const page = await listPins(svc, 'alice')
    expect(ids(page)).toEqual([pinned2.requestid, pinned1.requestid])
    expect(page.count).toBe(2)
    expect(ids(await svc.client('alice').pinsGet())).toEqual([pinned2.requestid, pinned1.requestid])
  })

  it.each([
    { status: 'queued', want: () => [queued] },
    { status: 'pinning', want: () => [pinning] },
    { status: 'pinned', want: () => [pinned2, pinned1] },
    { status: 'failed', want: () => [failed] },
    { status: 'failed,queued', want: () => [queued, failed] },
    { status: 'pinned,pinning', want: () => [pinning, pinned2, pinned1] },
    { status: ALL_STATUSES, want: () => [queued, pinning, failed, pinned2, pinned1] }
  ])('status=$status lists exactly those, newest first', async ({ status, want }) => {
    const page = await listPins(svc, 'alice', { status })
    expect(ids(page)).toEqual(want().map(s => s.requestid))
    expect(page.count).toBe(want().length)
    for (const r of page.results) expect(status.split(',')).toContain(r.status)
  })

  it('the official client sends several statuses as a comma list', async () => {
    const page = await svc.client('alice')
      .pinsGet({ status: [Status.Queued, Status.Pinning, Status.Pinned, Status.Failed] })
    expect(ids(page)).toEqual([queued, pinning, failed, pinned2, pinned1].map(s => s.requestid))
    expect(page.count).toBe(5)
  })

  it('kubo --stat: limit=1 per status still counts every match', async () => {
    for (const [status, n] of [['queued', 1], ['pinning', 1], ['pinned', 2], ['failed', 1]] as const) {
      const page = await listPins(svc, 'alice', { status, limit: '1' })
      expect(page.count, status).toBe(n)
      expect(page.results).toHaveLength(1)
    }
  })

  it('MFS policy lookup: name + all statuses finds a pending pin', async () => {
    const page = await listPins(svc, 'alice', { name: 'mfs-policy', status: ALL_STATUSES })
    expect(ids(page)).toEqual([queued.requestid])
    expect(page.count).toBe(1)
  })

  it("another user's pins are never listed or counted, in any state", async () => {
    const page = await listPins(svc, 'alice', { status: ALL_STATUSES, limit: '1000' })
    expect(ids(page)).not.toContain(bobPinned.requestid)
    expect(ids(page)).not.toContain(bobQueued.requestid)
    expect(page.count).toBe(5)
    expect((await listPins(svc, 'alice', { name: 'other', status: ALL_STATUSES })).count).toBe(1)
    const bob = await listPins(svc, 'bob', { status: ALL_STATUSES })
    expect(ids(bob)).toEqual([bobQueued.requestid, bobPinned.requestid])
    expect(bob.count).toBe(2)
  })

  it('(the states held while the tests above ran)', async () => {
    expect((await getPin(svc, 'alice', pinning.requestid)).status,
      `raise STALL_MS: the pinning pin stalled within ${STALL_MS} ms`).toBe('pinning')
    expect((await getPin(svc, 'alice', queued.requestid)).status).toBe('queued')
  })
})
