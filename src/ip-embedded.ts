/**
 * IPv6 addresses that carry an IPv4 address, for the two gates on where Pinery connects for its users
 * (webhook targets, pin origins): a host with the matching mechanism reaches the IPv4 address inside, so
 * each is judged as that address. Node's BlockList knows only the IPv4-mapped form.
 */
import { isIP } from 'node:net'

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function groupsOf (address: string): number[] {
  let text = address.toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted != null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail == null || tail === '' ? [] : tail.split(':')
  const fill = tail == null ? [] : new Array<string>(8 - h.length - t.length).fill('0')
  return [...h, ...fill, ...t].map(g => parseInt(g, 16))
}

/**
 * The IPv4 address an IPv6 address carries: IPv4-mapped (::ffff:a.b.c.d), IPv4-translated
 * (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated; not :: or ::1) and 6to4
 * (2002:aabb:ccdd::/48). So ::7f00:1 is loopback and 2002:a00:1:: is 10.0.0.1. Undefined for any other
 * address (NAT64 is each gate's own decision).
 */
export function embeddedV4 (address: string): string | undefined {
  if (isIP(address) !== 6) return undefined
  const g = groupsOf(address)
  const v4 = (hi = 0, lo = 0): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  const zeros = (n: number): boolean => g.slice(0, n).every(x => x === 0)
  if (zeros(5) && g[5] === 0xffff) return v4(g[6], g[7])
  if (zeros(4) && g[4] === 0xffff && g[5] === 0) return v4(g[6], g[7])
  if (zeros(6) && ((g[6] ?? 0) !== 0 || (g[7] ?? 0) > 1)) return v4(g[6], g[7])
  if (g[0] === 0x2002) return v4(g[1], g[2])
  return undefined
}
