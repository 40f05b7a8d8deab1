/**
 * How many connections the node keeps open, for HTTP and libp2p alike: every connection is a file descriptor,
 * and the block and datastore files need the rest.
 */
import { readFileSync } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The process's open-file limit (Node raises the soft limit to the hard one at start), or undefined if unknown. */
export function openFileLimit (): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return line == null ? undefined : Number(line[1])
  } catch {
    return undefined
  }
}

/**
 * A connection cap (HTTP's, libp2p's): the configured one, but at most a quarter of the open-file limit.
 * Without a cap a flood of idle HTTP connections (no token needed to open one) took every descriptor: block
 * files could not be created, so uploads answered 500 and fetches would fail their pins, and /health
 * reported the blockstore down (limit 300, 400 connections, 2026-11-30); one peer dialling the node 272
 * times did the same through libp2p (limit 300). The other half is left to LevelDB and block files.
 */
export function connectionCap (configured: number, fileLimit = openFileLimit()): number {
  return fileLimit == null ? configured : Math.max(8, Math.min(configured, Math.floor(fileLimit / 4)))
}

/**
 * Connections one remote address may hold: the configured number, never more than a quarter of the whole cap
 * (at least 4). Under the whole cap alone, one address flooding it kept every other client out until its
 * connections timed out; with this, three quarters of the cap stay open to everyone else.
 */
export function perAddressCap (cap: number, configured = Number.POSITIVE_INFINITY): number {
  return Math.max(4, Math.min(configured, Math.floor(cap / 4)))
}

/**
 * The key connections are counted under per remote address: an IPv4 address as itself (also when a dual-stack
 * listener reports it IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address by its /64. One IPv6 host is routinely
 * given a whole /64 and can pick a new source address in it for every connection, so counted per address it
 * escaped the cap altogether.
 */
export function addressGroup (address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped != null) return mapped[1] as string
  if (isIPv4(address) || !isIPv6(address.replace(/%.*$/, ''))) return address
  const [head = '', tail = ''] = address.replace(/%.*$/, '').toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  // An embedded IPv4 tail (::1.2.3.4) fills two groups; only the first four matter here.
  const width = right.reduce((n, part) => n + (part.includes('.') ? 2 : 1), 0)
  const zeros = Array<string>(8 - left.length - width).fill('0')
  const groups = address.includes('::') ? [...left, ...zeros, ...right] : left
  return `${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/**
 * The address group (addressGroup) of a libp2p peer's multiaddr, else the whole multiaddr (one key for what has
 * no IP): the inbound connection rate (inbound-rate.ts) and the lean bitswap's per-address budgets count by it.
 */
export function multiaddrGroup (ma: Multiaddr): string {
  const ip = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  return ip == null ? ma.toString() : addressGroup(ip)
}
