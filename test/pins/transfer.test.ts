/**
 * Two real peers over TCP on 127.0.0.1: an origin with a UnixFS file, and
 * Pinery fetching it over bitswap.
 */
import { Status } from '@ipfs-shipyard/pinning-service-client'
import { afterEach, describe, expect, it } from 'vitest'
import toBuffer from 'it-to-buffer'
import { base16 } from 'multiformats/bases/base16'
import { CID } from 'multiformats/cid'
import { unixfs } from '@helia/unixfs'
import { startOrigin, dagSizeIn, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { keepLine, pinPhases } from '../../scripts/bench/phases.js'

// Each bitswap on both sides: stock @helia/bitswap, and Pinery's lean one (PINERY_BITSWAP).
describe.each(['helia', 'lean'] as const)('pinning a DAG from another peer (%s bitswap)', (bitswap) => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
    service = origin = undefined
  })

  async function untilSettled (
    svc: TestService,
    requestid: string
  ): Promise<{ status: string, info?: Record<string, string> }> {
    return await waitFor(async () => {
      const s = await svc.client().pinsRequestidGet({ requestid })
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 60_000, `pin ${requestid} to settle`)
  }

  it('pins a 4 MiB file from its origins, with the right dag_size and readable bytes', async () => {
    origin = await startOrigin({ bitswap })
    const { cid, bytes } = await origin.addRandomFile(4)
    service = await startService({ env: { PINERY_BITSWAP: bitswap } })
    const created = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: origin.addrs } })
    expect(['queued', 'pinning']).toContain(created.status)

    const settled = await untilSettled(service, created.requestid)
    expect(settled.status).toBe('pinned')
    expect(settled.info?.dag_size).toBe(String(await dagSizeIn(origin.blockstore)))

    // Read back from Pinery's own blockstore with the origin gone.
    await origin.stop()
    origin = undefined
    const fs = unixfs(service.pinery.node.helia)
    const read = await toBuffer(fs.cat(CID.parse(cid.toString()), { offline: true }))
    expect(Buffer.compare(read, bytes)).toBe(0)
  })

  it('pins without origins when the origin dials the delegates', async () => {
    origin = await startOrigin({ bitswap })
    const { cid } = await origin.addRandomFile(4)
    service = await startService({ env: { PINERY_BITSWAP: bitswap } })
    const created = await service.client().pinsPost({ pin: { cid: cid.toString() } })
    expect(created.delegates.length).toBeGreaterThan(0)
    for (const d of created.delegates) expect(d).toMatch(new RegExp(`/p2p/${service.pinery.node.peerId}$`))
    await origin.dial(created.delegates.filter(d => d.includes('/127.0.0.1/')))
    const settled = await untilSettled(service, created.requestid)
    expect(settled.status).toBe('pinned')
  })

  it('a dial failure on one origin does not fail the pin', async () => {
    origin = await startOrigin({ bitswap })
    const { cid } = await origin.addRandomFile(1)
    service = await startService({ env: { PINERY_BITSWAP: bitswap } })
    const dead = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk'
    const created = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: [dead, ...origin.addrs] } })
    expect((await untilSettled(service, created.requestid)).status).toBe('pinned')
  })

  it('an unfetchable CID ends failed with a reason, and its record stays', async () => {
    origin = await startOrigin({ bitswap })
    const { cid } = await origin.addRandomFile(1)
    await origin.stop()
    origin = undefined
    service = await startService({ env: { PINERY_STALL_TIMEOUT_MS: '500', PINERY_BITSWAP: bitswap } })
    const created = await service.client().pinsPost({ pin: { cid: cid.toString() } })
    const settled = await untilSettled(service, created.requestid)
    expect(settled.status).toBe('failed')
    expect(settled.info?.status_details).toMatch(/no progress for 500 ms/)
    const listed = await service.client().pinsGet({ status: [Status.Failed] })
    expect(listed.results.map(r => r.requestid)).toEqual([created.requestid])
  })

  it('several requests for one CID share one copy and all become pinned', async () => {
    origin = await startOrigin({ bitswap })
    const { cid } = await origin.addRandomFile(2)
    service = await startService({ users: ['bob'], env: { PINERY_BITSWAP: bitswap } })
    const a = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: origin.addrs } })
    // Bob names the same DAG in another multibase: echoed as given, stored once.
    const b16 = cid.toString(base16)
    const b = await service.client('bob').pinsPost({ pin: { cid: b16, origins: origin.addrs } })
    expect(b.pin.cid).toBe(b16)
    expect(a.requestid).not.toBe(b.requestid)
    expect((await untilSettled(service, a.requestid)).status).toBe('pinned')
    const bSettled = await waitFor(async () => {
      const s = await service?.client('bob').pinsRequestidGet({ requestid: b.requestid })
      return s?.status === 'pinned' ? s : undefined
    })
    expect(bSettled.info?.dag_size).toBe(String(await dagSizeIn(origin.blockstore)))
    // Once pinned, another request for it is pinned in the 202 itself, with no fetch.
    await origin.stop()
    origin = undefined
    const c = await service.client().pinsPost({ pin: { cid: cid.toString() } })
    expect(c.status).toBe('pinned')
    expect(c.info?.dag_size).toBe(bSettled.info?.dag_size)
  })

  it('logs a pin\'s phases at debug level, in order, as bench:transfer --rtt reads them', async () => {
    origin = await startOrigin({ bitswap })
    const { cid } = await origin.addRandomFile(4)
    const logs: string[] = []
    service = await startService({ env: { PINERY_BITSWAP: bitswap }, logs })
    const postedAt = Date.now()
    const created = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: origin.addrs } })
    expect((await untilSettled(service, created.requestid)).status).toBe('pinned')
    const line = await waitFor(async () => logs.find(l => l.includes('"fetch timeline"')), 5000, 'the timeline')
    expect(JSON.parse(line)).toMatchObject({ requestid: created.requestid })
    const p = pinPhases(logs.filter(keepLine), postedAt)
    // Every mark is there (libp2p's lines included: a libp2p that rewords them fails here, not in the bench).
    const order = [p.job, p.tcp, p.secure, p.noise, p.connected, p.bitswap, p.root, p.firstLeaf, p.lastBlock,
      p.lastStored, p.durable, p.settled]
    for (const ms of order) expect(Number.isFinite(ms)).toBe(true)
    // In order, apart from the bitswap stream, opened beside the fetch (the root may come first from a stream
    // already open). Marks are whole milliseconds of two clocks read at different moments: 1 ms of slack.
    const fetchOrder = [p.job, p.tcp, p.secure, p.noise, p.connected, p.root, p.firstLeaf, p.lastBlock,
      p.lastStored, p.durable, p.settled]
    for (let i = 1; i < fetchOrder.length; i++) {
      expect(fetchOrder[i]).toBeGreaterThanOrEqual((fetchOrder[i - 1] ?? 0) - 1)
    }
  })
})
