/**
 * Conformance of the HTTP API with the IPFS Pinning Service API v1.0.0
 * (ipfs-pinning-service.yaml) and with what real clients expect (kubo via
 * boxo's pinning client, the official JS client). Requests go through the official
 * client `@ipfs-shipyard/pinning-service-client` wherever it can express them;
 * raw fetch is used where the exact wire form matters (status codes, exact
 * `created` strings, empty bodies) and for malformed input.
 *
 * Pins of raw identity CIDs carry their content and become `pinned` at once;
 * CIDs of random sha256 blocks that nobody has stay queued/pinning until the
 * stall timeout fails them.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TextMatchingStrategy } from '@ipfs-shipyard/pinning-service-client'
import { Configuration, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'
import { multiaddr } from '@multiformats/multiaddr'
import { base16 } from 'multiformats/bases/base16'
import { base32upper } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64, base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** PinStatus / PinResults exactly as they appear on the wire. */
interface WirePin { cid: string, name?: string, origins?: string[], meta?: Record<string, string> }
interface WirePinStatus {
  requestid: string
  status: string
  created: string
  pin: WirePin
  delegates: string[]
  info?: Record<string, string>
}
interface WirePinResults { count: number, results: WirePinStatus[] }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// RFC 3339 (section 5.6) with exactly millisecond precision.
const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/
const ALL_STATUSES = 'queued,pinning,pinned,failed'
// A syntactically valid peer ID; nothing listens at the addresses built with it.
const PEER = '12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk'
const originAddr = (port: number): string => `/ip4/127.0.0.1/tcp/${port}/p2p/${PEER}`

let seq = 0
/** A raw identity CID: its content is inline, so Pinery pins it instantly. */
function instantCid (): CID {
  return CID.createV1(raw.code, identity.digest(new TextEncoder().encode(`pinery api test ${++seq} ${randomUUID()}`)))
}

/** A raw sha256 CID of random bytes nobody has: it stays queued/pinning until it stalls. */
async function missingCid (): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
}

/** Raw POST with a JSON content type and `text` as the body verbatim. */
async function postText (
  svc: TestService, path: string, text: string, user: string | null = 'alice', contentType = 'application/json'
): Promise<Response> {
  return await svc.request(path, { method: 'POST', user, headers: { 'content-type': contentType }, body: text })
}

async function postJson (
  svc: TestService, path: string, body: unknown, user: string | null = 'alice'
): Promise<Response> {
  return await postText(svc, path, JSON.stringify(body), user)
}

/** POST /pins over raw fetch, expecting 202; returns the PinStatus as sent. */
async function addPin (svc: TestService, user: string, pin: WirePin): Promise<WirePinStatus> {
  const res = await postJson(svc, '/pins', pin, user)
  expect(res.status, await res.clone().text()).toBe(202)
  return await res.json() as WirePinStatus
}

/** GET /pins/{requestid} over raw fetch, expecting 200. */
async function getPin (svc: TestService, user: string, requestid: string): Promise<WirePinStatus> {
  const res = await svc.request(`/pins/${requestid}`, { user })
  expect(res.status).toBe(200)
  return await res.json() as WirePinStatus
}

/** GET /pins with a query (string or params) over raw fetch, expecting 200. */
async function listPins (
  svc: TestService, user: string, query: string | Record<string, string> = ''
): Promise<WirePinResults> {
  const qs = typeof query === 'string' ? query : new URLSearchParams(query).toString()
  const res = await svc.request(`/pins${qs === '' ? '' : `?${qs}`}`, { user })
  expect(res.status, await res.clone().text()).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return await res.json() as WirePinResults
}

const ids = (page: { results: Array<{ requestid: string }> }): string[] => page.results.map(r => r.requestid)

/** Asserts a Failure response (`{"error":{"reason","details"}}`, JSON) and returns its details. */
async function expectFailure (res: Response, status: number, reason: string): Promise<string> {
  const text = await res.text()
  expect(res.status, text).toBe(status)
  // kubo reports an error without a JSON content type as an undefined response type.
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const body = JSON.parse(text) as { error: { reason: string, details: string } }
  expect(body).toStrictEqual({ error: { reason, details: expect.any(String) } })
  expect(body.error.details.trim()).not.toBe('')
  return body.error.details
}

/** The official client throws the Response itself for any status >= 300. */
async function clientFailure (call: Promise<unknown>): Promise<Response> {
  const thrown = await call.then(() => undefined, (err: unknown) => err)
  expect(thrown).toBeInstanceOf(Response)
  return thrown as Response
}

/** Checks everything the spec requires of a PinStatus, whatever its state. */
function expectPinStatusShape (s: WirePinStatus, svc: TestService): void {
  expect(s.requestid).toMatch(UUID)
  expect(['queued', 'pinning', 'pinned', 'failed']).toContain(s.status)
  expect(s.created).toMatch(RFC3339_MS)
  expect(Number.isNaN(Date.parse(s.created))).toBe(false)
  expect(Math.abs(Date.parse(s.created) - Date.now())).toBeLessThan(5 * 60_000)
  expect(typeof s.pin.cid).toBe('string')
  // delegates: 1–20 unique multiaddrs, each ending /p2p/<our peer ID> (kubo aborts otherwise).
  expect(Array.isArray(s.delegates)).toBe(true)
  expect(s.delegates.length).toBeGreaterThanOrEqual(1)
  expect(s.delegates.length).toBeLessThanOrEqual(20)
  expect(new Set(s.delegates).size).toBe(s.delegates.length)
  for (const d of s.delegates) {
    expect(d.endsWith(`/p2p/${svc.pinery.node.peerId}`), d).toBe(true)
    expect(multiaddr(d).toString()).toBe(d)
  }
  // info is optional, but when present every value must be a string.
  if (s.info !== undefined) {
    expect(s.info).toBeTypeOf('object')
    expect(Array.isArray(s.info)).toBe(false)
    for (const [k, v] of Object.entries(s.info)) expect(typeof v, `info.${k}`).toBe('string')
  }
}

/** A timestamp equal to `iso` but written with a UTC offset of `minutes`. */
function withOffset (iso: string, minutes: number): string {
  const local = new Date(Date.parse(iso) + minutes * 60_000).toISOString().slice(0, -1)
  const abs = Math.abs(minutes)
  const hh = String(Math.floor(abs / 60)).padStart(2, '0')
  const mm = String(abs % 60).padStart(2, '0')
  return `${local}${minutes < 0 ? '-' : '+'}${hh}:${mm}`
}

// ---------------------------------------------------------------------------
// POST /pins
// ---------------------------------------------------------------------------

describe('POST /pins', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice', 'bob'] }) })
  afterAll(async () => { await svc?.destroy() })

  it('answers 202 with a complete PinStatus', async () => {
    const cid = instantCid()
    const pin = { cid: cid.toString(), name: 'report.pdf', origins: [originAddr(1)], meta: { app_id: 'a1' } }
    const res = await postJson(svc, '/pins', pin)
    expect(res.status).toBe(202)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const status = await res.json() as WirePinStatus
    expectPinStatusShape(status, svc)
    expect(status.status).toBe('pinned')
    expect(status.pin).toStrictEqual(pin)
    // Identity CIDs are pinned at once; their size is the inline digest.
    expect(status.info?.dag_size).toBe(String(cid.multihash.digest.byteLength))
  })

  it('works through the official client', async () => {
    const cid = instantCid().toString()
    const status = await svc.client('alice').pinsPost({ pin: { cid, name: 'via client' } })
    expect(status.requestid).toMatch(UUID)
    expect(status.status).toBe(Status.Pinned)
    expect(status.created).toBeInstanceOf(Date)
    expect(Number.isNaN(status.created.getTime())).toBe(false)
    expect(status.pin).toEqual({ cid, name: 'via client' })
    expect(status.delegates.length).toBeGreaterThan(0)
    const again = await svc.client('alice').pinsRequestidGet({ requestid: status.requestid })
    expect(again).toEqual(status)
  })

  it('gives a new requestid (and created) when the same CID is pinned again', async () => {
    const cid = instantCid().toString()
    const a = await addPin(svc, 'alice', { cid })
    const b = await addPin(svc, 'alice', { cid })
    expect(a.requestid).toMatch(UUID)
    expect(b.requestid).toMatch(UUID)
    expect(b.requestid).not.toBe(a.requestid)
    expect(Date.parse(b.created)).toBeGreaterThan(Date.parse(a.created))
    // Both requests exist independently.
    expect((await getPin(svc, 'alice', a.requestid)).pin.cid).toBe(cid)
    expect((await getPin(svc, 'alice', b.requestid)).pin.cid).toBe(cid)
  })

  // The CID is echoed exactly as given; Pinery must not normalise it.
  const MULTIBASES: Array<{ base: string, make: () => Promise<string>, prefix: RegExp }> = [
    { base: 'base32 CIDv1', make: async () => instantCid().toString(), prefix: /^bafk/ },
    { base: 'base36', make: async () => instantCid().toString(base36), prefix: /^k/ },
    { base: 'base58btc', make: async () => instantCid().toString(base58btc), prefix: /^z/ },
    { base: 'base32upper', make: async () => instantCid().toString(base32upper), prefix: /^B/ },
    { base: 'base16', make: async () => instantCid().toString(base16), prefix: /^f/ },
    { base: 'base64', make: async () => instantCid().toString(base64), prefix: /^m/ },
    { base: 'base64url', make: async () => instantCid().toString(base64url), prefix: /^u/ },
    // CIDv0 is always sha2-256 dag-pb, so it cannot be inline: this one stays pending.
    { base: 'CIDv0', make: async () => CID.createV0(await sha256.digest(randomBytes(32))).toString(), prefix: /^Qm/ }
  ]

  it.each(MULTIBASES)('echoes a $base CID and name, origins and meta exactly', async ({ make, prefix }) => {
    const cid = await make()
    expect(cid).toMatch(prefix)
    const pin = {
      cid,
      name: 'Ünïcödé name 🌲 with spaces & symbols? 👨\u200d👩\u200d👧',
      origins: [originAddr(1), `/dns4/example.com/tcp/4001/p2p/${PEER}`],
      meta: { app_id: '99986338-1113-4706-8302-4420da6158aa', 'key with spaces': 'välue/&?=' }
    }
    const created = await addPin(svc, 'alice', pin)
    expectPinStatusShape(created, svc)
    expect(created.pin).toStrictEqual(pin)
    const fetched = await getPin(svc, 'alice', created.requestid)
    expect(fetched.pin).toStrictEqual(pin)
    expect(fetched.created).toBe(created.created)
    const listed = await listPins(svc, 'alice', { cid, status: ALL_STATUSES })
    expect(listed.results.find(r => r.requestid === created.requestid)?.pin).toStrictEqual(pin)
  })

  it('echoes meta keys that are special in JavaScript (__proto__, constructor) exactly', async () => {
    // JSON.parse makes "__proto__" an own key, as it is on the wire.
    const meta = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t","":"empty key"}') as
      Record<string, string>
    const status = await addPin(svc, 'alice', { cid: instantCid().toString(), meta })
    expect(Object.entries(status.pin.meta ?? {})).toEqual(Object.entries(meta))
    const fetched = await getPin(svc, 'alice', status.requestid)
    expect(Object.entries(fetched.pin.meta ?? {})).toEqual(Object.entries(meta))
  })

  it('echoes a pin without optional fields as just {cid}', async () => {
    const cid = instantCid().toString()
    const status = await addPin(svc, 'alice', { cid })
    expect(status.pin).toStrictEqual({ cid })
  })

  it('ignores unknown body fields, including PinStatus fields a client cannot set', async () => {
    const cid = instantCid().toString()
    const res = await postJson(svc, '/pins', {
      cid,
      requestid: 'chosen-by-client',
      status: 'failed',
      created: '2000-01-01T00:00:00.000Z',
      delegates: [originAddr(2)],
      info: { x: 'y' },
      extra: { nested: [1, 2, 3] }
    })
    expect(res.status).toBe(202)
    const status = await res.json() as WirePinStatus
    expect(status.requestid).not.toBe('chosen-by-client')
    expect(status.requestid).toMatch(UUID)
    expect(status.status).toBe('pinned')
    expect(status.created).not.toBe('2000-01-01T00:00:00.000Z')
    expect(status.delegates).not.toContain(originAddr(2))
    expect(status.pin).toStrictEqual({ cid })
  })

  it('accepts the limits themselves: 255-character name, 20 origins, 1000 meta entries', async () => {
    // maxLength counts characters (code points), not bytes.
    const name = '🌲'.repeat(255)
    const origins = Array.from({ length: 20 }, (_, i) => originAddr(4001 + i))
    const meta = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, `v${i}`]))
    const pin = { cid: instantCid().toString(), name, origins, meta }
    const status = await addPin(svc, 'alice', pin)
    expect(status.pin).toStrictEqual(pin)
  })

  it('accepts the origins kubo sends: its QUIC, WebTransport and WebRTC addresses too (never dialed)', async () => {
    // As kubo 0.42 sent them for `ipfs pin remote add` (captured), plus IPv6, DNS and WebSocket forms.
    const origins = [
      `/ip4/127.0.0.1/tcp/39195/p2p/${PEER}`,
      `/ip4/127.0.0.1/udp/36036/webrtc-direct/certhash/uEiBAIMRbKxoiBJ0JiNWU6eJLZnT90fyz0dhs-9BS3In7zQ/p2p/${PEER}`,
      `/ip4/127.0.0.1/udp/45214/quic-v1/p2p/${PEER}`,
      '/ip4/127.0.0.1/udp/46861/quic-v1/webtransport' +
      '/certhash/uEiCPqeE4BDMByMYfq0zNVMgJVI7PIihcC3uXTXBDBYbecg' +
      `/certhash/uEiDowWL38M-K8JjZ6H1S-HX7RUyvhVwQMwFJ7kuEM7Ay1w/p2p/${PEER}`,
      `/ip6/::1/tcp/4001/p2p/${PEER}`,
      `/dns6/example.com/tcp/4001/p2p/${PEER}`,
      `/dns/example.com/tcp/443/tls/ws/p2p/${PEER}`
    ]
    const pin = { cid: instantCid().toString(), origins }
    expect((await addPin(svc, 'alice', pin)).pin).toStrictEqual(pin)
  })

  it('starts a CID nobody has as queued or pinning, with string info', async () => {
    const cid = (await missingCid()).toString()
    const status = await addPin(svc, 'bob', { cid })
    expectPinStatusShape(status, svc)
    expect(['queued', 'pinning']).toContain(status.status)
  })
})

// ---------------------------------------------------------------------------
// GET / DELETE /pins/{requestid} and ownership
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// GET /pins: status filter (needs one pin in each state at the same time)
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// GET /pins: other filters, ordering, limit, count, paging
// ---------------------------------------------------------------------------

describe('GET /pins filters and paging', () => {
  // Every test lists as its own user so counts are exact and tests independent.
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({
      users: ['alice', 'bob', 'limits', 'cids', 'names', 'meta', 'times', 'pages', 'pages-client']
    })
  })
  afterAll(async () => { await svc?.destroy() })

  it('limit defaults to 10, accepts up to 1000, and count is the total, not the page size', async () => {
    const created: WirePinStatus[] = []
    for (let i = 0; i < 12; i++) created.push(await addPin(svc, 'limits', { cid: instantCid().toString() }))
    const newestFirst = created.map(s => s.requestid).reverse()

    const byDefault = await listPins(svc, 'limits')
    expect(ids(byDefault)).toEqual(newestFirst.slice(0, 10))
    expect(byDefault.count).toBe(12)
    expect(ids(await svc.client('limits').pinsGet())).toEqual(newestFirst.slice(0, 10))

    for (const limit of [1, 3, 12, 13, 1000]) {
      const page = await listPins(svc, 'limits', { limit: String(limit) })
      expect(ids(page), `limit=${limit}`).toEqual(newestFirst.slice(0, limit))
      expect(page.count, `limit=${limit}`).toBe(12)
    }
    expect((await svc.client('limits').pinsGet({ limit: 1000 })).results).toHaveLength(12)
  })

  it('filters by cid: exact strings, comma lists up to 10', async () => {
    const x = instantCid()
    const y = instantCid()
    const xB32 = await addPin(svc, 'cids', { cid: x.toString() })
    const xB32again = await addPin(svc, 'cids', { cid: x.toString() })
    const xB36 = await addPin(svc, 'cids', { cid: x.toString(base36) })
    const xB64 = await addPin(svc, 'cids', { cid: x.toString(base64) })
    const yB58 = await addPin(svc, 'cids', { cid: y.toString(base58btc) })
    await addPin(svc, 'cids', { cid: instantCid().toString() }) // unrelated
    const xPins = [xB32, xB32again, xB36, xB64].map(s => s.requestid)

    // Every pin created with exactly the queried string is found; a pin of the
    // same CID in another multibase may be found too, nothing else may.
    const check = async (cids: string[], exact: WirePinStatus[], allowed: string[]): Promise<void> => {
      const page = await listPins(svc, 'cids', { cid: cids.join(',') })
      for (const s of exact) expect(ids(page), cids.join(',')).toContain(s.requestid)
      for (const id of ids(page)) expect(allowed).toContain(id)
      expect(page.count).toBe(page.results.length)
      const viaClient = await svc.client('cids').pinsGet({ cid: cids })
      expect(ids(viaClient)).toEqual(ids(page))
    }
    await check([x.toString()], [xB32, xB32again], xPins)
    await check([x.toString(base36)], [xB36], xPins)
    await check([x.toString(base64)], [xB64], xPins)
    await check([y.toString(base58btc)], [yB58], [yB58.requestid])
    await check([x.toString(), y.toString(base58btc)], [xB32, xB32again, yB58], [...xPins, yB58.requestid])

    // 10 CIDs is allowed; CIDs nobody pinned match nothing.
    const ten = [y.toString(base58btc), ...Array.from({ length: 9 }, () => instantCid().toString())]
    const page = await listPins(svc, 'cids', { cid: ten.join(',') })
    expect(ids(page)).toEqual([yB58.requestid])
    expect(page.count).toBe(1)
    expect(await listPins(svc, 'cids', { cid: instantCid().toString() })).toStrictEqual({ count: 0, results: [] })
  })

  describe('name with each match strategy', () => {
    const NAMES = ['Holiday Photos', 'holiday photos', 'Holiday Photos 2023', 'Work notes', 'Q&A + 100% / done?']
    const byName = new Map<string, string>()
    beforeAll(async () => {
      for (const name of NAMES) {
        byName.set(name, (await addPin(svc, 'names', { cid: instantCid().toString(), name })).requestid)
      }
      await addPin(svc, 'names', { cid: instantCid().toString() }) // unnamed: never matches a name filter
    })

    it.each([
      { match: undefined, name: 'Holiday Photos', want: ['Holiday Photos'] },
      { match: 'exact', name: 'Holiday Photos', want: ['Holiday Photos'] },
      { match: 'exact', name: 'holiday', want: [] },
      { match: 'exact', name: 'Q&A + 100% / done?', want: ['Q&A + 100% / done?'] },
      { match: 'iexact', name: 'HOLIDAY photos', want: ['Holiday Photos', 'holiday photos'] },
      { match: 'iexact', name: 'holiday', want: [] },
      { match: 'partial', name: 'Photos', want: ['Holiday Photos', 'Holiday Photos 2023'] },
      { match: 'partial', name: 'photos', want: ['holiday photos'] },
      { match: 'partial', name: '100% /', want: ['Q&A + 100% / done?'] },
      { match: 'ipartial', name: 'PHOTOS', want: ['Holiday Photos', 'holiday photos', 'Holiday Photos 2023'] },
      { match: 'ipartial', name: 'o', want: NAMES }
    ] as Array<{ match: TextMatchingStrategy | undefined, name: string, want: string[] }>)(
      'name=$name match=$match', async ({ match, name, want }) => {
        const expected = want.map(n => byName.get(n)).reverse() // newest first
        const page = await listPins(svc, 'names', { name, ...(match != null ? { match } : {}) })
        expect(ids(page)).toEqual(expected)
        expect(page.count).toBe(expected.length)
        const viaClient = await svc.client('names').pinsGet({ name, ...(match != null ? { match } : {}) })
        expect(ids(viaClient)).toEqual(expected)
      })
  })

  describe('meta (AND of key/value pairs)', () => {
    const PROTO_META = JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>
    const pins: Record<string, string> = {}
    beforeAll(async () => {
      const add = async (key: string, meta?: Record<string, string>): Promise<void> => {
        const pin = { cid: instantCid().toString(), ...(meta != null ? { meta } : {}) }
        pins[key] = (await addPin(svc, 'meta', pin)).requestid
      }
      await add('a-prod', { app: 'a', env: 'prod' })
      await add('a-dev', { app: 'a', env: 'dev' })
      await add('b-prod', { app: 'b', env: 'prod' })
      await add('a-prod-extra', { app: 'a', env: 'prod', extra: 'x' })
      await add('special', { 'key & [brackets]': 'välue / 100% = "quoted"' })
      await add('js-keys', PROTO_META)
      await add('none')
    })

    it.each([
      { meta: { app: 'a' }, want: ['a-prod', 'a-dev', 'a-prod-extra'] },
      { meta: { app: 'a', env: 'prod' }, want: ['a-prod', 'a-prod-extra'] },
      { meta: { env: 'prod', app: 'b' }, want: ['b-prod'] },
      { meta: { app: 'a', env: 'prod', extra: 'x' }, want: ['a-prod-extra'] },
      { meta: { app: 'c' }, want: [] },
      { meta: { app: 'A' }, want: [] },
      { meta: { 'key & [brackets]': 'välue / 100% = "quoted"' }, want: ['special'] },
      // Keys JavaScript treats specially are plain keys here; none of them matches everything.
      { meta: JSON.parse('{"__proto__":"x"}') as Record<string, string>, want: ['js-keys'] },
      { meta: JSON.parse('{"__proto__":"other"}') as Record<string, string>, want: [] },
      { meta: { constructor: 'y' }, want: ['js-keys'] },
      { meta: { toString: 'y' }, want: [] }
    ])('meta=$meta', async ({ meta, want }) => {
      const expected = want.map(k => pins[k]).reverse()
      // The spec's wire form: a URL-escaped JSON object.
      const page = await listPins(svc, 'meta', `meta=${encodeURIComponent(JSON.stringify(meta))}`)
      expect(ids(page)).toEqual(expected)
      expect(page.count).toBe(expected.length)
      // The official client sends meta[key]=value pairs instead.
      const viaClient = await svc.client('meta').pinsGet({ meta })
      expect(ids(viaClient)).toEqual(expected)
      expect(viaClient.count).toBe(expected.length)
    })

    it('accepts the example from the spec verbatim', async () => {
      const id = (await addPin(svc, 'meta', { cid: instantCid().toString(), meta: { app_id: 'UUID' } })).requestid
      const page = await listPins(svc, 'meta', 'meta=%7B%22app_id%22%3A%22UUID%22%7D')
      expect(ids(page)).toEqual([id])
    })
  })

  it('before and after are exclusive bounds, in any RFC 3339 form', async () => {
    const [a, b, c] = [
      await addPin(svc, 'times', { cid: instantCid().toString() }),
      await addPin(svc, 'times', { cid: instantCid().toString() }),
      await addPin(svc, 'times', { cid: instantCid().toString() })
    ] as [WirePinStatus, WirePinStatus, WirePinStatus]
    const expectIds = async (query: Record<string, string>, want: WirePinStatus[]): Promise<void> => {
      const page = await listPins(svc, 'times', query)
      expect(ids(page), JSON.stringify(query)).toEqual(want.map(s => s.requestid))
      expect(page.count, JSON.stringify(query)).toBe(want.length)
    }
    await expectIds({ before: b.created }, [a])
    await expectIds({ after: b.created }, [c])
    await expectIds({ after: a.created, before: c.created }, [b])
    await expectIds({ before: a.created }, [])
    await expectIds({ after: c.created }, [])
    await expectIds({ after: c.created, before: a.created }, [])
    // The same instant written with an offset.
    await expectIds({ before: withOffset(b.created, 120) }, [a])
    await expectIds({ after: withOffset(b.created, -330) }, [c])
    // Sub-millisecond precision: b (at .xxx000) is before .xxx4 and not after it.
    const bPlus = b.created.replace('Z', '4Z')
    await expectIds({ before: bPlus }, [b, a])
    await expectIds({ after: bPlus }, [c])
    // The official client sends Dates as toISOString().
    const client = svc.client('times')
    expect(ids(await client.pinsGet({ before: new Date(b.created) }))).toEqual([a.requestid])
    expect(ids(await client.pinsGet({ after: new Date(b.created) }))).toEqual([c.requestid])
  })

  // boxo's Ls loop, as kubo runs it: `count` is the total for all filters
  // (before included), so it stops when a page holds all of them.
  it('pages like kubo (limit=10, before=created of the last result) over 27 pins', async () => {
    const created: WirePinStatus[] = []
    for (let i = 0; i < 27; i++) {
      created.push(await addPin(svc, 'pages', { cid: instantCid().toString(), name: `p${i}` }))
    }
    // created is strictly increasing in creation order: paging by it needs unique values.
    for (let i = 1; i < created.length; i++) {
      expect(Date.parse((created[i] as WirePinStatus).created))
        .toBeGreaterThan(Date.parse((created[i - 1] as WirePinStatus).created))
    }

    const seen: string[] = []
    const pages: Array<{ count: number, size: number }> = []
    let before: string | undefined
    for (let guard = 0; ; guard++) {
      expect(guard, 'paging did not end').toBeLessThan(10)
      const page = await listPins(svc, 'pages',
        { limit: '10', status: 'pinned', ...(before != null ? { before } : {}) })
      pages.push({ count: page.count, size: page.results.length })
      seen.push(...ids(page))
      if (page.count === page.results.length) break
      // kubo treats count > 0 with no results as an error.
      expect(page.results.length, 'count > 0 but no results').toBeGreaterThan(0)
      before = page.results[page.results.length - 1]?.created
    }
    expect(pages).toEqual([{ count: 27, size: 10 }, { count: 17, size: 10 }, { count: 7, size: 7 }])
    expect(seen).toEqual(created.map(s => s.requestid).reverse())
  })

  it('pages through the official client the same way', async () => {
    const created: string[] = []
    for (let i = 0; i < 25; i++) {
      created.push((await svc.client('pages-client').pinsPost({ pin: { cid: instantCid().toString() } })).requestid)
    }
    const client = svc.client('pages-client')
    const seen: string[] = []
    const counts: number[] = []
    let before: Date | undefined
    for (let guard = 0; ; guard++) {
      expect(guard, 'paging did not end').toBeLessThan(10)
      const page = await client.pinsGet({ limit: 10, ...(before != null ? { before } : {}) })
      counts.push(page.count)
      seen.push(...ids(page))
      if (page.count === page.results.length) break
      expect(page.results.length, 'count > 0 but no results').toBeGreaterThan(0)
      before = page.results[page.results.length - 1]?.created
    }
    expect(counts).toEqual([25, 15, 5])
    expect(seen).toEqual([...created].reverse())
  })

  it("another user's pins are never listed or counted, whatever the filters", async () => {
    const cid = instantCid().toString()
    const pin = { cid, name: 'shared-name', meta: { team: 'x' } }
    const mine = await addPin(svc, 'alice', pin)
    const theirs = await addPin(svc, 'bob', pin)
    const queries: Array<Record<string, string>> = [
      {},
      { status: ALL_STATUSES, limit: '1000' },
      { cid },
      { name: 'shared-name' },
      { name: 'SHARED', match: 'ipartial' },
      { meta: JSON.stringify({ team: 'x' }) },
      { after: '2000-01-01T00:00:00Z' }
    ]
    for (const [user, own, other] of [['alice', mine, theirs], ['bob', theirs, mine]] as const) {
      for (const q of queries) {
        const page = await listPins(svc, user, q)
        expect(ids(page), `${user} ${JSON.stringify(q)}`).toContain(own.requestid)
        expect(ids(page), `${user} ${JSON.stringify(q)}`).not.toContain(other.requestid)
        expect(page.count).toBe(page.results.length)
      }
      expect((await listPins(svc, user, { cid })).count).toBe(1)
    }
  })
})

// ---------------------------------------------------------------------------
// 400 Bad Request
// ---------------------------------------------------------------------------

/** A Pin body with a fresh CID followed by `fields`, as JSON text. */
const withCid = (fields: Record<string, unknown>): string => JSON.stringify({ cid: instantCid().toString(), ...fields })

/** Invalid Pin bodies: the raw text sent and a pattern the details must match (naming the field). */
const BAD_BODIES: Array<{ what: string, body: () => string, field: RegExp }> = [
  { what: 'missing cid', body: () => JSON.stringify({ name: 'x' }), field: /cid/ },
  { what: 'empty object', body: () => '{}', field: /cid/ },
  { what: 'non-string cid', body: () => JSON.stringify({ cid: 42 }), field: /cid/ },
  { what: 'null cid', body: () => JSON.stringify({ cid: null }), field: /cid/ },
  { what: 'invalid cid', body: () => JSON.stringify({ cid: 'not-a-cid' }), field: /cid/ },
  { what: 'empty cid', body: () => JSON.stringify({ cid: '' }), field: /cid/ },
  { what: 'name > 255 chars', body: () => withCid({ name: 'n'.repeat(256) }), field: /name/ },
  { what: 'non-string name', body: () => withCid({ name: 7 }), field: /name/ },
  { what: 'name with a terminal escape', body: () => withCid({ name: 'report\u001b[2J.pdf' }), field: /name/ },
  { what: 'name with a line break', body: () => withCid({ name: 'a\nb' }), field: /name/ },
  { what: 'name with a NUL', body: () => withCid({ name: 'a\u0000b' }), field: /name/ },
  { what: 'name with a C1 control', body: () => withCid({ name: 'a\u009bb' }), field: /name/ },
  { what: 'name with a right-to-left override', body: () => withCid({ name: 'invoice\u202efdp.exe' }), field: /name/ },
  { what: 'origins not an array', body: () => withCid({ origins: originAddr(1) }), field: /origins/ },
  {
    what: 'origins > 20',
    body: () => withCid({ origins: Array.from({ length: 21 }, (_, i) => originAddr(4001 + i)) }),
    field: /origins/
  },
  { what: 'duplicate origins', body: () => withCid({ origins: [originAddr(1), originAddr(1)] }), field: /origins/ },
  { what: 'origin not a multiaddr', body: () => withCid({ origins: ['not a multiaddr'] }), field: /origins/ },
  {
    what: 'origin with an unknown protocol',
    body: () => withCid({ origins: [`/ip4/127.0.0.1/nope/1/p2p/${PEER}`] }),
    field: /origins/
  },
  { what: 'origin without /p2p/', body: () => withCid({ origins: ['/ip4/127.0.0.1/tcp/4001'] }), field: /origins/ },
  {
    what: 'origin with a bad peer ID',
    body: () => withCid({ origins: ['/ip4/127.0.0.1/tcp/4001/p2p/QmNotAPeerId'] }),
    field: /origins/
  },
  { what: 'non-string origin', body: () => withCid({ origins: [1] }), field: /origins/ },
  { what: 'meta not an object', body: () => withCid({ meta: 'app=a' }), field: /meta/ },
  { what: 'meta an array', body: () => withCid({ meta: ['a'] }), field: /meta/ },
  { what: 'meta with a non-string value', body: () => withCid({ meta: { app: 1 } }), field: /meta/ },
  { what: 'meta with a nested object', body: () => withCid({ meta: { app: { id: 'a' } } }), field: /meta/ },
  {
    what: 'meta > 1000 entries',
    body: () => withCid({ meta: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, 'v'])) }),
    field: /meta/
  },
  { what: 'malformed JSON', body: () => '{"cid": "bafy', field: /body|JSON/i },
  { what: 'empty body', body: () => '', field: /cid|body/ },
  { what: 'JSON array', body: () => JSON.stringify([{ cid: instantCid().toString() }]), field: /body/ },
  { what: 'JSON number', body: () => '42', field: /body/ },
  { what: 'JSON string', body: () => JSON.stringify(instantCid().toString()), field: /body/ },
  { what: 'JSON null', body: () => 'null', field: /body/ }
]

/** Invalid GET /pins queries and a pattern the details must match. */
const ELEVEN_CIDS = (): string => Array.from({ length: 11 }, () => instantCid().toString()).join(',')
const BAD_QUERIES: Array<{ what: string, query: () => string, field: RegExp }> = [
  { what: 'cid empty', query: () => 'cid=', field: /cid/ },
  { what: 'cid with an empty item', query: () => `cid=${instantCid().toString()},`, field: /cid/ },
  { what: '> 10 cids', query: () => `cid=${ELEVEN_CIDS()}`, field: /cid/ },
  { what: 'invalid cid', query: () => 'cid=not-a-cid', field: /cid/ },
  { what: 'status unknown', query: () => 'status=done', field: /status/ },
  { what: 'status list with an unknown one', query: () => 'status=pinned,bogus', field: /status/ },
  { what: 'status empty', query: () => 'status=', field: /status/ },
  { what: 'status in the wrong case', query: () => 'status=PINNED', field: /status/ },
  { what: 'match unknown', query: () => 'name=x&match=fuzzy', field: /match/ },
  { what: 'before not a timestamp', query: () => 'before=yesterday', field: /before/ },
  { what: 'before date only', query: () => 'before=2020-07-27', field: /before/ },
  { what: 'before without an offset', query: () => 'before=2020-07-27T17:32:28.276', field: /before/ },
  { what: 'before impossible date', query: () => 'before=2020-13-45T17:32:28Z', field: /before/ },
  { what: 'before a day its month lacks', query: () => 'before=2020-02-30T17:32:28Z', field: /before/ },
  { what: 'after an hour that does not exist', query: () => 'after=2020-02-03T24:32:28Z', field: /after/ },
  { what: 'after not a timestamp', query: () => 'after=1595870548276', field: /after/ },
  { what: 'after empty', query: () => 'after=', field: /after/ },
  { what: 'limit 0', query: () => 'limit=0', field: /limit/ },
  { what: 'limit 1001', query: () => 'limit=1001', field: /limit/ },
  { what: 'limit abc', query: () => 'limit=abc', field: /limit/ },
  { what: 'limit negative', query: () => 'limit=-1', field: /limit/ },
  { what: 'limit fractional', query: () => 'limit=1.5', field: /limit/ },
  { what: 'limit empty', query: () => 'limit=', field: /limit/ },
  { what: 'meta not JSON', query: () => 'meta=app%3Da', field: /meta/ },
  { what: 'meta a JSON array', query: () => `meta=${encodeURIComponent('["a"]')}`, field: /meta/ },
  { what: 'meta JSON null', query: () => 'meta=null', field: /meta/ },
  { what: 'meta with a non-string value', query: () => `meta=${encodeURIComponent('{"app":1}')}`, field: /meta/ },
  { what: 'meta given both ways', query: () => `meta=${encodeURIComponent('{"a":"b"}')}&meta%5Bc%5D=d`, field: /meta/ },
  { what: 'name > 255 chars', query: () => `name=${'n'.repeat(256)}`, field: /name/ }
]

describe('400 Bad Request', () => {
  let svc: TestService
  let target: WirePinStatus
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'rejects'] })
    target = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'replace target', meta: { keep: 'me' } })
  })
  afterAll(async () => { await svc?.destroy() })

  it.each(BAD_BODIES)('POST /pins with $what', async ({ body, field }) => {
    const countOf = async (): Promise<number> => (await listPins(svc, 'rejects', { status: ALL_STATUSES })).count
    const before = await countOf()
    const details = await expectFailure(await postText(svc, '/pins', body(), 'rejects'), 400, 'BAD_REQUEST')
    expect(details).toMatch(field)
    expect(await countOf(), 'a rejected request created a pin').toBe(before)
  })

  it.each(BAD_BODIES)('POST /pins/{requestid} with $what leaves the pin untouched', async ({ body, field }) => {
    const details = await expectFailure(
      await postText(svc, `/pins/${target.requestid}`, body(), 'alice'), 400, 'BAD_REQUEST')
    expect(details).toMatch(field)
    expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
  })

  it.each(BAD_QUERIES)('GET /pins with $what', async ({ query, field }) => {
    const details = await expectFailure(await svc.request(`/pins?${query()}`, { user: 'alice' }), 400, 'BAD_REQUEST')
    expect(details).toMatch(field)
  })

  it('the official client gets 400 for an invalid CID', async () => {
    const res = await clientFailure(svc.client('rejects').pinsPost({ pin: { cid: 'not-a-cid' } }))
    expect((await expectFailure(res, 400, 'BAD_REQUEST'))).toMatch(/cid/)
  })

  it.each([
    { what: 'a word', body: { cid: 'hello' }, details: /^cid: "hello" is not a valid CID \(a CID looks like bafy/ },
    { what: 'only spaces', body: { cid: '   ' }, details: /^cid: must not be empty$/ },
    { what: 'a space inside', body: { cid: 'bafy kreia' }, details: /^cid: must not contain spaces$/ },
    { what: 'a bad origin', body: { cid: 'bafkqaaa', origins: ['nope'] }, details: /^origins\[0\]: / }
  ])('names what is wrong in words a person reads: $what', async ({ body, details }) => {
    const res = await postText(svc, '/pins', JSON.stringify(body), 'rejects')
    expect(await expectFailure(res, 400, 'BAD_REQUEST')).toMatch(details)
  })

  it.each([
    { what: 'too long', id: 'x'.repeat(129) },
    { what: 'non-ASCII', id: encodeURIComponent('ünïcode') }
  ])('a malformed requestid ($what) is 400 naming requestid', async ({ id }) => {
    expect(await expectFailure(await svc.request(`/pins/${id}`, { user: 'alice' }), 400, 'BAD_REQUEST'))
      .toMatch(/requestid/)
  })
})

// ---------------------------------------------------------------------------
// 413, 415, 401, 404, 405
// ---------------------------------------------------------------------------

describe('other errors', () => {
  let svc: TestService
  let target: WirePinStatus
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_MAX_BODY_BYTES: '2048' } })
    target = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'kept' })
  })
  afterAll(async () => { await svc?.destroy() })

  const bodyOfSize = (bytes: number): string => {
    const base = JSON.stringify({ cid: instantCid().toString(), meta: { pad: '' } })
    return JSON.stringify({ cid: instantCid().toString(), meta: { pad: 'x'.repeat(bytes - base.length) } })
  }

  describe('413 Payload Too Large', () => {
    it('refuses a body over PINERY_MAX_BODY_BYTES on create and on replace', async () => {
      const big = bodyOfSize(3000)
      expect(Buffer.byteLength(big)).toBe(3000)
      await expectFailure(await postText(svc, '/pins', big, 'bob'), 413, 'PAYLOAD_TOO_LARGE')
      await expectFailure(await postText(svc, `/pins/${target.requestid}`, big), 413, 'PAYLOAD_TOO_LARGE')
      expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
      expect((await listPins(svc, 'bob', { status: ALL_STATUSES })).count).toBe(0)
    })

    it('accepts a body just under the limit', async () => {
      const ok = bodyOfSize(2000)
      expect(Buffer.byteLength(ok)).toBe(2000)
      const res = await postText(svc, '/pins', ok, 'bob')
      expect(res.status).toBe(202)
      const status = await res.json() as WirePinStatus
      await svc.request(`/pins/${status.requestid}`, { method: 'DELETE', user: 'bob' })
    })
  })

  describe('415 Unsupported Media Type', () => {
    const body = (): string => JSON.stringify({ cid: instantCid().toString() })

    it.each([
      { type: 'text/plain' },
      { type: 'application/x-www-form-urlencoded' },
      { type: 'multipart/form-data; boundary=xyz' },
      { type: 'application/jsonx' },
      { type: 'application/json; charset=latin1' }
    ])('refuses Content-Type $type on create and replace', async ({ type }) => {
      await expectFailure(await postText(svc, '/pins', body(), 'bob', type), 415, 'UNSUPPORTED_MEDIA_TYPE')
      await expectFailure(
        await postText(svc, `/pins/${target.requestid}`, body(), 'alice', type), 415, 'UNSUPPORTED_MEDIA_TYPE')
      expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
      expect((await listPins(svc, 'bob', { status: ALL_STATUSES })).count).toBe(0)
    })

    it('refuses a body without any Content-Type', async () => {
      // A Uint8Array body makes fetch send no Content-Type at all.
      const res = await svc.request('/pins', { method: 'POST', user: 'bob', body: new TextEncoder().encode(body()) })
      await expectFailure(res, 415, 'UNSUPPORTED_MEDIA_TYPE')
    })

    it.each([
      { type: 'application/json; charset=utf-8' },
      { type: 'Application/JSON' },
      { type: 'application/vnd.pinery+json' }
    ])('accepts Content-Type $type', async ({ type }) => {
      const res = await postText(svc, '/pins', body(), 'bob', type)
      expect(res.status).toBe(202)
      const status = await res.json() as WirePinStatus
      await svc.request(`/pins/${status.requestid}`, { method: 'DELETE', user: 'bob' })
    })
  })

  describe('401 Unauthorized', () => {
    it.each([
      { what: 'no Authorization header', header: undefined },
      { what: 'an empty header', header: '' },
      { what: 'Basic credentials', header: 'Basic YWxpY2U6c2VjcmV0' },
      { what: 'Bearer without a token', header: 'Bearer' },
      { what: 'Bearer and a blank', header: 'Bearer ' },
      { what: 'a token without the scheme', header: 'pinery_sometoken' },
      { what: 'two tokens', header: 'Bearer a b' },
      { what: 'an unknown token', header: 'Bearer pinery_unknown-token' }
    ])('$what → 401 UNAUTHORIZED on every route', async ({ header }) => {
      const headers: Record<string, string> = header == null ? {} : { authorization: header }
      const requests: Array<[string, RequestInit]> = [
        ['/pins', {}],
        ['/pins', {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ cid: instantCid().toString() })
        }],
        [`/pins/${target.requestid}`, {}],
        [`/pins/${target.requestid}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ cid: instantCid().toString() })
        }],
        [`/pins/${target.requestid}`, { method: 'DELETE' }],
        ['/no-such-route', {}]
      ]
      for (const [path, init] of requests) {
        const res = await svc.request(path, { headers, ...init, user: null })
        await expectFailure(res, 401, 'UNAUTHORIZED')
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
      }
      expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
    })

    it('the official client with a wrong token gets 401', async () => {
      const bad = new RemotePinningServiceClient(
        new Configuration({ endpointUrl: svc.url, accessToken: 'pinery_wrong-token' }))
      const res = await clientFailure(bad.pinsGet())
      await expectFailure(res, 401, 'UNAUTHORIZED')
    })

    it('accepts the scheme in any case', async () => {
      const res = await svc.request('/pins',
        { user: null, headers: { authorization: `bearer ${svc.tokens.alice as string}` } })
      expect(res.status).toBe(200)
    })
  })

  it.each([
    { method: 'GET', path: '/index.html' }, // / itself is the web app
    { method: 'GET', path: '/pin' },
    { method: 'GET', path: '/pins/a/b' },
    { method: 'GET', path: '/api/v1/pins' },
    { method: 'POST', path: '/pinz' },
    { method: 'DELETE', path: '/pins/a/b' }
  ])('$method $path (unknown route) → 404 JSON', async ({ method, path }) => {
    await expectFailure(await svc.request(path, { method, user: 'alice' }), 404, 'NOT_FOUND')
  })

  it.each([
    { method: 'PUT', path: '/pins' },
    { method: 'PATCH', path: '/pins' },
    { method: 'DELETE', path: '/pins' },
    { method: 'PUT', path: '/pins/{id}' },
    { method: 'PATCH', path: '/pins/{id}' }
  ])('$method $path → 405 with Allow', async ({ method, path }) => {
    const res = await svc.request(path.replace('{id}', target.requestid), { method, user: 'alice' })
    const allow = res.headers.get('allow')
    await expectFailure(res, 405, 'METHOD_NOT_ALLOWED')
    expect(allow).toMatch(/GET/)
    expect(allow).toMatch(/POST/)
    expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
  })
})
