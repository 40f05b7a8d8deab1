/**
 * POST /pins: what a create answers, the CID echoed as given, names, origins and meta as stored.
 * Part of the conformance tests with the IPFS Pinning Service API v1.0.0; what they share and how they
 * pin is in test/fixtures/pins-api.ts.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Status } from '@ipfs-shipyard/pinning-service-client'
import { base16 } from 'multiformats/bases/base16'
import { base32upper } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64, base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { startService, type TestService } from '../fixtures/service.js'
import {
  UUID, ALL_STATUSES, PEER, originAddr, instantCid, missingCid, postJson, addPin, getPin, listPins,
  expectPinStatusShape, type WirePinStatus
} from '../fixtures/pins-api.js'

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
