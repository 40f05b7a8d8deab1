/**
 * The dial gate: origins on loopback (and other internal ranges) are not
 * dialed unless PINERY_DIAL_ALLOW lets them, DNS names are judged by the
 * address they resolve to, and inbound connections are never affected.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { createDialGate, parseDialAllow } from '../../src/node/dial-gate.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

const PEER = '12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk'

describe('dial gate', () => {
  it('refuses loopback, link-local, private, CGNAT, unspecified and multicast targets; allows public ones', () => {
    const gate = createDialGate(parseDialAllow(''))
    for (const host of [
      '/ip4/127.0.0.1', '/ip4/127.8.9.10',
      '/ip4/10.1.2.3', '/ip4/172.16.0.1', '/ip4/172.31.255.255', '/ip4/192.168.1.1',
      '/ip4/100.64.0.1', '/ip4/169.254.169.254', '/ip4/0.0.0.0', '/ip4/224.0.0.1', '/ip4/255.255.255.255',
      '/ip6/::1', '/ip6/::', '/ip6/fe80::1', '/ip6/fd00::1', '/ip6/fc00::1', '/ip6/ff02::1',
      '/ip6/::ffff:127.0.0.1', '/ip6/::ffff:a00:1',
      '/dns4/localhost'
    ]) {
      expect(gate.allows(multiaddr(`${host}/tcp/4001/p2p/${PEER}`)), host).toBe(false)
    }
    for (const host of [
      '/ip4/1.1.1.1', '/ip4/172.32.0.1', '/ip4/100.128.0.1', '/ip4/192.169.0.1',
      '/ip6/2001:db8::1', '/ip6/::ffff:8.8.8.8'
    ]) {
      expect(gate.allows(multiaddr(`${host}/tcp/4001/p2p/${PEER}`)), host).toBe(true)
    }
  })

  it('names the rule that refuses an address, for the status of a request naming it', () => {
    const gate = createDialGate(parseDialAllow('10.0.0.0/8'))
    const rule = (host: string): string | undefined => gate.refusal(multiaddr(`${host}/tcp/4001/p2p/${PEER}`))
    expect(rule('/ip4/127.0.0.1')).toBe('loopback address')
    expect(rule('/ip4/192.168.1.1')).toBe('private address')
    expect(rule('/ip4/10.1.2.3')).toBeUndefined()
    expect(rule('/ip4/169.254.169.254')).toBe('link-local address')
    expect(rule('/ip6/::1')).toBe('loopback address')
    expect(rule('/ip6/fd00::1')).toBe('private address')
    expect(rule('/ip6/::ffff:127.0.0.1')).toBe('loopback address')
    expect(rule('/ip6/64:ff9b::c0a8:101')).toBe('private address behind NAT64')
    expect(rule('/ip6/2002:c0a8:101::1')).toBe('private address inside an IPv6 address')
    expect(rule('/ip4/1.1.1.1')).toBeUndefined()
  })

  it(
    'judges NAT64 addresses by the IPv4 address they reach, and refuses the other internal IPv6 and IPv4 ranges',
    () => {
      const gate = createDialGate(parseDialAllow(''))
      const allows = (host: string): boolean => gate.allows(multiaddr(`${host}/tcp/4001/p2p/${PEER}`))
      for (const host of [
        '/ip6/64:ff9b::7f00:1', '/ip6/64:ff9b::a9fe:a9fe', '/ip6/64:ff9b::10.1.2.3', '/ip6/64:ff9b::',
        '/ip6/64:ff9b:1::808:808',
        '/ip6/::7f00:1', '/ip6/::a00:1', '/ip6/fec0::1',
        '/ip4/198.18.0.1', '/ip4/192.0.0.170'
      ]) {
        expect(allows(host), host).toBe(false)
      }
      for (const host of ['/ip6/64:ff9b::808:808', '/ip6/64:ff9b::1.1.1.1', '/ip6/2001:4860::8888']) {
        expect(allows(host), host).toBe(true)
      }
      // PINERY_DIAL_ALLOW opens an IPv4 range through NAT64 too.
      expect(createDialGate(parseDialAllow('10.0.0.0/8')).allows(multiaddr(`/ip6/64:ff9b::a00:1/tcp/1/p2p/${PEER}`)))
        .toBe(true)
    })

  it('judges 6to4 and IPv4-translated addresses by the IPv4 address they carry', () => {
    const gate = createDialGate(parseDialAllow(''))
    const allows = (host: string): boolean => gate.allows(multiaddr(`/ip6/${host}/tcp/4001/p2p/${PEER}`))
    for (const host of ['2002:7f00:1::', '2002:a00:1::1', '2002:c0a8:101::', '::ffff:0:7f00:1', '::ffff:0:a9fe:a9fe']) {
      expect(allows(host), host).toBe(false)
    }
    for (const host of ['2002:101:101::1', '::ffff:0:101:101']) expect(allows(host), host).toBe(true)
    expect(createDialGate(parseDialAllow('10.0.0.0/8')).allows(multiaddr(`/ip6/2002:a00:1::/tcp/1/p2p/${PEER}`)))
      .toBe(true)
  })

  it('lets through what PINERY_DIAL_ALLOW names, and refuses a bad entry', () => {
    const gate = createDialGate(parseDialAllow('127.0.0.0/8, 10.1.0.0/16,fd00::/8 , 192.168.1.7, internal.example'))
    expect(gate.allows(multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${PEER}`))).toBe(true)
    expect(gate.allows(multiaddr(`/ip4/10.1.9.9/tcp/1/p2p/${PEER}`))).toBe(true)
    expect(gate.allows(multiaddr(`/ip4/10.2.0.1/tcp/1/p2p/${PEER}`))).toBe(false)
    expect(gate.allows(multiaddr(`/ip6/fd12::1/tcp/1/p2p/${PEER}`))).toBe(true)
    expect(gate.allows(multiaddr(`/ip4/192.168.1.7/tcp/1/p2p/${PEER}`))).toBe(true)
    expect(gate.allows(multiaddr(`/ip4/192.168.1.8/tcp/1/p2p/${PEER}`))).toBe(false)
    expect(gate.allows(multiaddr(`/dns4/Internal.Example/tcp/1/p2p/${PEER}`))).toBe(true)
    for (const bad of ['10.0.0.0/33', '1.2.3.4/8/9', 'not a host', '10.0.0.0/x', 'a/8']) {
      expect(() => parseDialAllow(bad), bad).toThrow(/CIDR|host name/)
    }
  })

  it('resolves DNS names to addresses, so the gate judges where a dial really goes', async () => {
    const gate = createDialGate(parseDialAllow(''))
    const resolver = gate.resolvers.dns
    const ma = multiaddr(`/dns4/localhost/tcp/4001/p2p/${PEER}`)
    expect(resolver?.canResolve(ma)).toBe(true)
    const resolved = await resolver?.resolve(ma, {} as Parameters<NonNullable<typeof resolver>['resolve']>[1])
    expect(resolved?.map(String)).toEqual([`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`])
    expect(gate.allows(resolved?.[0] as ReturnType<typeof multiaddr>)).toBe(false)
    // A name allowed as it is stays a name (the TCP dial resolves it).
    expect(createDialGate(parseDialAllow('localhost')).resolvers.dns?.canResolve(ma)).toBe(false)
  })
})

describe('origins and the dial gate, with real peers', () => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
    service = origin = undefined
  })

  async function pinFrom (svc: TestService, cid: string, origins: string[]): Promise<string> {
    const res = await svc.request('/pins', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cid, origins })
    })
    expect(res.status, await res.clone().text()).toBe(202)
    return (await res.json() as { requestid: string }).requestid
  }
  const statusOf = async (svc: TestService, id: string): Promise<string> =>
    (await (await svc.request(`/pins/${id}`)).json() as { status: string }).status

  it.each([
    ['an /ip4 loopback origin', (o: Origin) => o.addrs.filter(a => a.startsWith('/ip4/127.0.0.1/'))],
    [
      'a /dns4 name resolving to loopback',
      (o: Origin) => o.addrs.filter(a => a.startsWith('/ip4/127.0.0.1/'))
        .map(a => a.replace('/ip4/127.0.0.1/', '/dns4/localhost/'))
    ]
  ])('by default, %s is never dialed; allowed, it is and the pin completes', async (_what, originsOf) => {
    origin = await startOrigin()
    const { cid } = await origin.addRandomFile(1)
    const origins = originsOf(origin)
    expect(origins).toHaveLength(1)

    service = await startService({ env: { PINERY_DIAL_ALLOW: '', PINERY_STALL_TIMEOUT_MS: '1500' } })
    const refused = await pinFrom(service, cid.toString(), origins)
    const svc = service
    expect(await waitFor(async () => {
      const s = await statusOf(svc, refused)
      return s === 'failed' ? s : undefined
    }, 10_000, 'the pin to stall')).toBe('failed')
    expect(origin.node.libp2p.getConnections()).toHaveLength(0)
    // Inbound connections from loopback are not gated: the origin can still reach the service.
    await service.stop()
    await service.destroy()

    service = await startService({ env: { PINERY_DIAL_ALLOW: '127.0.0.0/8', PINERY_STALL_TIMEOUT_MS: '10000' } })
    const allowed = await pinFrom(service, cid.toString(), origins)
    const svc2 = service
    expect(await waitFor(async () => {
      const s = await statusOf(svc2, allowed)
      return s === 'pinned' || s === 'failed' ? s : undefined
    }, 20_000, 'the pin')).toBe('pinned')
    expect(origin.node.libp2p.getConnections().map(c => c.remotePeer.toString())).toContain(service.pinery.node.peerId)
  })

  it('an origin may still connect to the service itself (inbound is never gated)', async () => {
    origin = await startOrigin()
    const { cid } = await origin.addRandomFile(1)
    service = await startService({ env: { PINERY_DIAL_ALLOW: '' } })
    const id = await pinFrom(service, cid.toString(), [])
    await origin.dial(service.pinery.node.delegates().filter(d => d.includes('/127.0.0.1/')))
    const svc = service
    expect(await waitFor(async () => {
      const s = await statusOf(svc, id)
      return s === 'pinned' || s === 'failed' ? s : undefined
    }, 20_000, 'the pin')).toBe('pinned')
  })
})
