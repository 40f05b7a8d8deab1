/**
 * What the node may dial. Origins come from users, so without a gate any
 * user could make Pinery connect to the operator's loopback, link-local or
 * private network (services that trust "internal" callers). The gate refuses
 * outbound dials to those ranges unless PINERY_DIAL_ALLOW lists them; inbound
 * connections are not affected. DNS names are resolved before the gate looks
 * (libp2p resolves only /dnsaddr itself, and Node would resolve /dns4 inside
 * the TCP dial where no gate sees it), and the resolved address is dialed.
 */
import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ConnectionGater, MultiaddrResolver } from '@libp2p/interface'
import { embeddedV4 } from '../ip-embedded.js'

/** The libp2p parts that enforce the gate. */
export interface DialGate {
  connectionGater: ConnectionGater
  /** Resolves /dns, /dns4 and /dns6 to IP addresses, so the gater sees where a dial goes. */
  resolvers: Record<string, MultiaddrResolver>
  /** Whether a dial to this multiaddr is allowed (after resolution). */
  allows(ma: Multiaddr): boolean
  /**
   * Why a dial to this multiaddr is refused ("loopback address", "private address inside an IPv6 address", …),
   * undefined when it is allowed: the rule a person is told when their origin was not dialed.
   */
  refusal(ma: Multiaddr): string | undefined
}

/** Targets the gate lets through despite being in a refused range. */
export interface DialAllow {
  /** CIDRs (`10.0.0.0/8`, `fd00::/8`) and single addresses. */
  subnets: Array<{ address: string, prefix: number, type: 'ipv4' | 'ipv6' }>
  /** DNS names dialed as they are (lower case). */
  hosts: string[]
}

/** Refused ranges, each with what it is called when a request's status says why its origin was not dialed. */
const DENIED_V4: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified address'], // "this network"
  ['127.0.0.0', 8, 'loopback address'],
  ['10.0.0.0', 8, 'private address'], ['172.16.0.0', 12, 'private address'], ['192.168.0.0', 16, 'private address'],
  ['100.64.0.0', 10, 'carrier-grade NAT address'],
  ['169.254.0.0', 16, 'link-local address'],
  ['192.0.0.0', 24, 'IETF protocol address'],
  ['198.18.0.0', 15, 'benchmarking address'],
  ['224.0.0.0', 4, 'multicast address'],
  ['240.0.0.0', 4, 'reserved address'] // and the broadcast address
]
const DENIED_V6: Array<[string, number, string]> = [
  ['::', 128, 'unspecified address'], ['::1', 128, 'loopback address'],
  ['::', 96, 'IPv4-compatible address'], // deprecated
  ['64:ff9b:1::', 48, 'local-use NAT64 address'], // translates to whatever the local network chose
  ['fe80::', 10, 'link-local address'],
  ['fec0::', 10, 'site-local address'], // deprecated, private
  ['fc00::', 7, 'private address'], // unique local
  ['ff00::', 8, 'multicast address']
]
/** The well-known NAT64 prefix: its last 32 bits are an IPv4 address the host's NAT64 gateway dials. */
const NAT64: [string, number] = ['64:ff9b::', 96]

/** The IPv4 address in the last 32 bits of an IPv6 address as multiaddr prints it (compressed hex). */
function lastV4 (address: string): string {
  const groups = address.split(':')
  const last = groups[groups.length - 1] ?? ''
  if (last.includes('.')) return last
  const hi = parseInt(groups[groups.length - 2] ?? '', 16) || 0
  const lo = parseInt(last, 16) || 0
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/** Parses PINERY_DIAL_ALLOW: comma-separated CIDRs, addresses and host names. Throws naming a bad entry. */
export function parseDialAllow (value: string): DialAllow {
  const allow: DialAllow = { subnets: [], hosts: [] }
  for (const entry of value.split(',').map(s => s.trim()).filter(s => s !== '')) {
    const [address = '', prefixText, extra] = entry.split('/')
    const version = isIP(address)
    if (version === 0) {
      if (prefixText != null || !HOSTNAME.test(address)) {
        throw new Error(`"${entry}" is neither a CIDR, an IP address nor a host name`)
      }
      allow.hosts.push(address.toLowerCase().replace(/\.$/, ''))
      continue
    }
    const bits = version === 4 ? 32 : 128
    const prefix = prefixText == null ? bits : Number(prefixText)
    if (extra != null || (prefixText != null && !/^\d+$/.test(prefixText)) || prefix > bits) {
      throw new Error(`"${entry}" is not a valid CIDR`)
    }
    allow.subnets.push({ address, prefix, type: version === 4 ? 'ipv4' : 'ipv6' })
  }
  return allow
}

/** Creates the gate. */
export function createDialGate (allow: DialAllow): DialGate {
  const denied = new BlockList()
  const rules: Array<{ list: BlockList, name: string }> = []
  for (const [type, table] of [['ipv4', DENIED_V4], ['ipv6', DENIED_V6]] as const) {
    for (const [address, prefix, name] of table) {
      denied.addSubnet(address, prefix, type)
      const list = new BlockList()
      list.addSubnet(address, prefix, type)
      rules.push({ list, name })
    }
  }
  const allowed = new BlockList()
  for (const s of allow.subnets) allowed.addSubnet(s.address, s.prefix, s.type)
  const hosts = new Set(allow.hosts)
  const nat64 = new BlockList()
  nat64.addSubnet(NAT64[0], NAT64[1], 'ipv6')

  /** The refused range `address` is in, unless PINERY_DIAL_ALLOW allows it (the rule is looked up only then). */
  function deniedAs (address: string, type: 'ipv4' | 'ipv6'): string | undefined {
    if (!denied.check(address, type) || allowed.check(address, type)) return undefined
    return rules.find(r => r.list.check(address, type))?.name ?? 'refused address'
  }

  function refusal (ma: Multiaddr): string | undefined {
    const [first] = ma.getComponents()
    if (first?.value == null) return 'not an address'
    if (first.name === 'ip4' || first.name === 'ip6') {
      // Through NAT64 (IPv6-only hosts with DNS64) 64:ff9b::a00:1 reaches 10.0.0.1: judged as that.
      if (first.name === 'ip6' && nat64.check(first.value, 'ipv6')) {
        const rule = deniedAs(lastV4(first.value), 'ipv4')
        return rule == null ? undefined : `${rule} behind NAT64`
      }
      // IPv4-mapped IPv6 addresses are checked against the IPv4 ranges too (BlockList does that).
      const rule = deniedAs(first.value, first.name === 'ip4' ? 'ipv4' : 'ipv6')
      if (rule != null) return rule
      // 6to4 and IPv4-translated addresses, which BlockList does not map, reach the IPv4 address inside.
      const inside = first.name === 'ip6' ? embeddedV4(first.value) : undefined
      const insideRule = inside == null ? undefined : deniedAs(inside, 'ipv4')
      return insideRule == null ? undefined : `${insideRule} inside an IPv6 address`
    }
    // A name reaches the gate unresolved only when it is allowed as it is.
    if (first.name === 'dns' || first.name === 'dns4' || first.name === 'dns6') {
      return hosts.has(first.value.toLowerCase()) ? undefined : 'a name that did not resolve'
    }
    return 'not an IP address or DNS name'
  }
  const allows = (ma: Multiaddr): boolean => refusal(ma) == null

  const dnsResolver: MultiaddrResolver = {
    canResolve (ma) {
      const [first] = ma.getComponents()
      return (first?.name === 'dns' || first?.name === 'dns4' || first?.name === 'dns6') &&
        !hosts.has((first.value ?? '').toLowerCase())
    },
    async resolve (ma) {
      const [first, ...rest] = ma.getComponents()
      const family = first?.name === 'dns4' ? 4 : first?.name === 'dns6' ? 6 : 0
      const tail = rest.map(c => c.value == null ? `/${c.name}` : `/${c.name}/${c.value}`).join('')
      try {
        const found = await lookup(first?.value ?? '', { all: true, family })
        return found.map(a => multiaddr(`/${a.family === 4 ? 'ip4' : 'ip6'}/${a.address}${tail}`))
      } catch {
        return [] // an unknown name: nothing to dial
      }
    }
  }

  return {
    connectionGater: { denyDialMultiaddr: (ma) => !allows(ma) },
    resolvers: { dns: dnsResolver },
    allows,
    refusal
  }
}
