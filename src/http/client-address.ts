/**
 * The address a request came from, for what is kept per client (the failed sign-in limit, the cap on a client's
 * open requests through a proxy, the request log's `client`): the socket's
 * peer, unless that peer is a reverse proxy the operator named in PINERY_TRUSTED_PROXIES; then the address
 * the proxy put in X-Forwarded-For. Of that header the rightmost entry that is not itself a trusted proxy
 * counts: a proxy appends the address it saw, so a client sending the header cannot choose its own. Without
 * the setting the header is ignored, and behind a proxy every client is the proxy's one address.
 * node:net's BlockList matches the addresses and CIDRs (no dependency for a few lines).
 */
import { BlockList, isIP } from 'node:net'
import type { IncomingMessage } from 'node:http'

/** The client's address of a request. */
export type ClientAddress = (req: IncomingMessage) => string | undefined

/**
 * An X-Forwarded-For entry's address without the port some proxies append (`192.0.2.1:51234`,
 * `[2001:db8::1]:51234`, `[2001:db8::1]`): with it, every entry read as not an address, and every client behind
 * such a proxy counted as the proxy's one address (review14).
 */
function withoutPort (entry: string): string {
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry)
  if (v4 != null) return v4[1] as string
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(entry)
  return v6 != null ? v6[1] as string : entry
}

/** An IPv4 client of a dual-stack socket as its IPv4 address (`::ffff:192.0.2.1` → `192.0.2.1`). */
const unmapped = (address: string): string => address.startsWith('::ffff:') && isIP(address.slice(7)) === 4
  ? address.slice(7)
  : address

function addEntry (list: BlockList, entry: string): void {
  const [address = '', prefix, extra] = entry.split('/')
  const family = isIP(address)
  const max = family === 4 ? 32 : 128
  if (family === 0 || extra != null || (prefix != null && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))) {
    throw new Error(`"${entry}" is not an IP address or a CIDR such as 10.0.0.0/8`)
  }
  const type = family === 4 ? 'ipv4' : 'ipv6'
  if (prefix == null) list.addAddress(address, type)
  else list.addSubnet(address, Number(prefix), type)
}

/** Parses PINERY_TRUSTED_PROXIES: comma-separated IP addresses and CIDRs; throws naming a bad entry. */
export function parseTrustedProxies (value: string): string[] {
  const list = value.split(',').map(s => s.trim()).filter(s => s !== '')
  const check = new BlockList()
  for (const entry of list) addEntry(check, entry)
  return list
}

/**
 * Whether a socket's peer is one of the trusted proxies (undefined when none are named). A proxy's connections
 * carry many clients: the per-address connection cap (listen.ts) leaves them to the whole cap, and
 * clientRequestCap counts their requests per client instead.
 */
export function trustedPeer (trustedProxies: string[]): ((address: string | undefined) => boolean) | undefined {
  if (trustedProxies.length === 0) return undefined
  const list = new BlockList()
  for (const entry of trustedProxies) addEntry(list, entry)
  return (address) => {
    if (address == null) return false
    const plain = unmapped(address)
    const family = isIP(plain)
    return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6')
  }
}

/** The client's address given the trusted proxies (none: the socket's peer). */
export function clientAddress (trustedProxies: string[]): ClientAddress {
  const trusted = trustedPeer(trustedProxies)
  if (trusted == null) return (req) => req.socket.remoteAddress
  return (req) => {
    const peer = req.socket.remoteAddress
    if (peer == null || !trusted(peer)) return peer
    const header = req.headers['x-forwarded-for']
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map(s => s.trim())
    let client = unmapped(peer)
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapped(withoutPort(hops[i] as string))
      // Not an address (an empty or garbled header): the last proxy seen is all that is known.
      if (isIP(hop) === 0) return client
      client = hop
      if (!trusted(hop)) return client
    }
    return client
  }
}
