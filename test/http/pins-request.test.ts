/**
 * GET / DELETE /pins/{requestid} with ownership, and POST /pins/{requestid} (replace).
 * Part of the conformance tests with the IPFS Pinning Service API v1.0.0; what they share and how they
 * pin is in test/fixtures/pins-api.ts.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Status } from '@ipfs-shipyard/pinning-service-client'
import { startService, type TestService } from '../fixtures/service.js'
import {
  ALL_STATUSES, originAddr, instantCid, missingCid, postJson, addPin, getPin, listPins, ids, expectFailure,
  clientFailure, expectPinStatusShape, type WirePinStatus
} from '../fixtures/pins-api.js'

describe('/pins/{requestid}: get, delete and ownership', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice', 'bob', 'mallory'] }) })
  afterAll(async () => { await svc?.destroy() })

  it('GET returns 200 and the same PinStatus as the create', async () => {
    const created = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'get-me', meta: { a: 'b' } })
    const res = await svc.request(`/pins/${created.requestid}`, { user: 'alice' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const fetched = await res.json() as WirePinStatus
    expectPinStatusShape(fetched, svc)
    expect(fetched).toStrictEqual(created)
  })

  it.each([
    { what: 'a random UUID', id: randomUUID() },
    { what: 'a non-UUID id', id: 'no-such-request' }
  ])('GET of $what is 404 with a Failure body', async ({ id }) => {
    await expectFailure(await svc.request(`/pins/${id}`, { user: 'alice' }), 404, 'NOT_FOUND')
    expect((await clientFailure(svc.client('alice').pinsRequestidGet({ requestid: id }))).status).toBe(404)
  })

  it("another user's requestid is 404 for GET, replace and DELETE, and the pin is untouched", async () => {
    const pin = { cid: instantCid().toString(), name: 'alice-only', meta: { owner: 'alice' } }
    const created = await addPin(svc, 'alice', pin)
    const path = `/pins/${created.requestid}`

    await expectFailure(await svc.request(path, { user: 'mallory' }), 404, 'NOT_FOUND')
    const hijack = { cid: instantCid().toString(), name: 'hijacked' }
    await expectFailure(await postJson(svc, path, hijack, 'mallory'), 404, 'NOT_FOUND')
    await expectFailure(await svc.request(path, { method: 'DELETE', user: 'mallory' }), 404, 'NOT_FOUND')
    // The official client sees the same.
    const client = svc.client('mallory')
    expect((await clientFailure(client.pinsRequestidGet({ requestid: created.requestid }))).status).toBe(404)
    const replace = { requestid: created.requestid, pin: { cid: instantCid().toString() } }
    expect((await clientFailure(client.pinsRequestidPost(replace))).status).toBe(404)
    expect((await clientFailure(client.pinsRequestidDelete({ requestid: created.requestid }))).status).toBe(404)

    // Alice's pin is exactly as before, and the failed replace created nothing for mallory.
    expect(await getPin(svc, 'alice', created.requestid)).toStrictEqual(created)
    expect(ids(await listPins(svc, 'alice', { name: 'alice-only' }))).toEqual([created.requestid])
    expect(await listPins(svc, 'mallory', { status: ALL_STATUSES })).toStrictEqual({ count: 0, results: [] })
  })

  it('DELETE answers 202 with an empty body; afterwards the id is 404 everywhere', async () => {
    const created = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'to-delete' })
    const res = await svc.request(`/pins/${created.requestid}`, { method: 'DELETE', user: 'alice' })
    expect(res.status).toBe(202)
    expect(await res.text()).toBe('')
    await expectFailure(await svc.request(`/pins/${created.requestid}`, { user: 'alice' }), 404, 'NOT_FOUND')
    await expectFailure(
      await svc.request(`/pins/${created.requestid}`, { method: 'DELETE', user: 'alice' }), 404, 'NOT_FOUND')
    await expectFailure(
      await postJson(svc, `/pins/${created.requestid}`, { cid: instantCid().toString() }), 404, 'NOT_FOUND')
    expect(await listPins(svc, 'alice', { name: 'to-delete', status: ALL_STATUSES }))
      .toStrictEqual({ count: 0, results: [] })
  })

  it('DELETE works through the official client, also for a pin still pending', async () => {
    const client = svc.client('bob')
    const pending = await client.pinsPost({ pin: { cid: (await missingCid()).toString() } })
    expect([Status.Queued, Status.Pinning]).toContain(pending.status)
    await client.pinsRequestidDelete({ requestid: pending.requestid })
    expect((await clientFailure(client.pinsRequestidGet({ requestid: pending.requestid }))).status).toBe(404)
    const statuses = [Status.Queued, Status.Pinning, Status.Pinned, Status.Failed]
    expect((await client.pinsGet({ status: statuses })).count).toBe(0)
  })
})

// ---------------------------------------------------------------------------
// POST /pins/{requestid}: replace
// ---------------------------------------------------------------------------

describe('POST /pins/{requestid} (replace)', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice', 'bob'] }) })
  afterAll(async () => { await svc?.destroy() })

  it('answers 202 with a new requestid; the old id is 404 at once', async () => {
    const old = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'v1' })
    const pin = { cid: instantCid().toString(), name: 'v2', origins: [originAddr(1)], meta: { version: '2' } }
    const res = await postJson(svc, `/pins/${old.requestid}`, pin)
    expect(res.status).toBe(202)
    const next = await res.json() as WirePinStatus
    expectPinStatusShape(next, svc)
    expect(next.requestid).not.toBe(old.requestid)
    expect(next.pin).toStrictEqual(pin)
    expect(Date.parse(next.created)).toBeGreaterThan(Date.parse(old.created))

    // No waiting: the old request is gone in the very next call.
    await expectFailure(await svc.request(`/pins/${old.requestid}`, { user: 'alice' }), 404, 'NOT_FOUND')
    expect(await getPin(svc, 'alice', next.requestid)).toStrictEqual(next)
    expect(ids(await listPins(svc, 'alice', { name: 'v', match: 'partial', status: ALL_STATUSES })))
      .toEqual([next.requestid])
  })

  it('gives a new requestid even when the CID does not change', async () => {
    const cid = instantCid().toString()
    const old = await addPin(svc, 'bob', { cid, name: 'same-cid' })
    const next = await svc.client('bob')
      .pinsRequestidPost({ requestid: old.requestid, pin: { cid, name: 'same-cid renamed' } })
    expect(next.requestid).not.toBe(old.requestid)
    expect(next.pin).toEqual({ cid, name: 'same-cid renamed' })
    expect((await clientFailure(svc.client('bob').pinsRequestidGet({ requestid: old.requestid }))).status).toBe(404)
    const listed = await svc.client('bob').pinsGet({ cid: [cid] })
    expect(ids(listed)).toEqual([next.requestid])
  })

  it('can replace a pending pin with an instantly pinned one', async () => {
    const old = await addPin(svc, 'bob', { cid: (await missingCid()).toString(), name: 'pending-then-replaced' })
    const next = await svc.client('bob')
      .pinsRequestidPost({ requestid: old.requestid, pin: { cid: instantCid().toString() } })
    expect(next.status).toBe(Status.Pinned)
    await expectFailure(await svc.request(`/pins/${old.requestid}`, { user: 'bob' }), 404, 'NOT_FOUND')
  })

  it('answers 404 for an unknown requestid and creates nothing', async () => {
    await expectFailure(
      await postJson(svc, `/pins/${randomUUID()}`, { cid: instantCid().toString(), name: 'ghost' }), 404, 'NOT_FOUND')
    expect((await listPins(svc, 'alice', { name: 'ghost', status: ALL_STATUSES })).count).toBe(0)
  })
})
