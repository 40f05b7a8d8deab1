/**
 * Where webhooks may point. A server making requests for its users must not
 * become their way into the node's own network: by default a webhook may
 * not reach loopback, link-local (cloud metadata), private, shared (CGNAT),
 * multicast or reserved addresses, nor any address of the node itself.
 * `PINERY_WEBHOOK_ALLOW` opens chosen hosts and CIDRs. Every address a name
 * resolves to is checked at delivery, and the connection goes to the address
 * that was checked, so a name re-bound between check and connect gains nothing.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { networkInterfaces } from 'node:os'
import { InvalidRequestError } from '../errors.js'
import { embeddedV4 } from '../ip-embedded.js'

/** Decides whether a URL or an address may be called. */
export interface TargetPolicy {
  /** Parses a webhook URL; throws InvalidRequestError when it can never be used. */
  parseUrl(url: string): URL
  /** Resolves the URL's host and throws InvalidRequestError unless every address may be called. */
  check(url: URL): Promise<void>
  /** A `lookup` for http.request: resolves, refuses when any address is not allowed, connects to a checked one. */
  lookup: LookupFunction
  /** Why `address` may not be called (reached as `host`), or undefined when it may. */
  refusal(host: string, address: string): string | undefined
}

/** What the policy is given. */
export interface TargetPolicyInit {
  /** Hosts (names or addresses) and CIDRs opened despite the rules. */
  allow: string[]
  /** Addresses of the node itself beyond its interfaces (e.g. the API's listen address). */
  ownAddresses?: string[]
}

const BLOCKED_V4: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'], ['10.0.0.0', 8, 'private'], ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'], ['169.254.0.0', 16, 'link-local'], ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'], ['192.168.0.0', 16, 'private'], ['198.18.0.0', 15, 'benchmarking'],
  ['224.0.0.0', 4, 'multicast'], ['240.0.0.0', 4, 'reserved']
]
const BLOCKED_V6: Array<[string, number, string]> = [
  ['::', 128, 'unspecified'], ['::1', 128, 'loopback'], ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'], ['ff00::', 8, 'multicast'], ['64:ff9b::', 96, 'NAT64'],
  ['64:ff9b:1::', 48, 'local-use NAT64'], ['fec0::', 10, 'site-local (deprecated, private)']
]

/** An address as judged: the IPv4 address an IPv6 one carries (see embeddedV4), else itself. */
const unmapped = (address: string): string => embeddedV4(address) ?? address

const bare = (host: string): string => host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host

// The resolver's codes (ENOTFOUND…) in words: the person who typed the URL reads this in a 400.
const RESOLVE_ERRORS: Record<string, string> = {
  ENOTFOUND: 'no such host name (check the spelling)',
  EAI_AGAIN: 'the DNS server could not be reached; try again',
  ENODATA: 'the name has no address',
  ETIMEOUT: 'the DNS server did not answer in time',
  ESERVFAIL: 'the DNS server failed to answer',
  ECONNREFUSED: 'the DNS server refused the query'
}

/** Builds the policy. Throws a plain Error naming a malformed allow entry. */
export function createTargetPolicy (init: TargetPolicyInit): TargetPolicy {
  const allowHosts = new Set<string>()
  const allowed = new BlockList()
  for (const entry of init.allow) {
    const [ip, bits] = entry.split('/') as [string, string | undefined]
    const family = isIP(ip)
    if (family === 0) {
      if (bits != null || !/^[a-z0-9.-]+$/i.test(entry)) {
        throw new Error(`"${entry}" is neither a host name, an address nor a CIDR`)
      }
      allowHosts.add(entry.toLowerCase())
      continue
    }
    const prefix = bits == null ? (family === 4 ? 32 : 128) : Number(bits)
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new Error(`"${entry}" has a bad prefix length`)
    }
    allowed.addSubnet(ip, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
  const own = new Set<string>((init.ownAddresses ?? []).filter(a => isIP(a) !== 0).map(a => unmapped(a).toLowerCase()))
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) own.add(unmapped(i.address).toLowerCase())
  }

  /** What `rawAddress` is that it may not be called ("a loopback address"), or undefined when it may. */
  function refusedKind (host: string, rawAddress: string): string | undefined {
    if (allowHosts.has(bare(host).toLowerCase())) return undefined
    const address = unmapped(bare(rawAddress))
    const family = isIP(address)
    if (family === 0) return 'not an IP address'
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (allowed.check(address, type)) return undefined
    for (const [net, bits, what] of family === 4 ? BLOCKED_V4 : BLOCKED_V6) {
      const one = new BlockList()
      one.addSubnet(net, bits, type)
      if (one.check(address, type)) return `a ${what} address`
    }
    if (own.has(address.toLowerCase())) return 'an address of this node'
    return undefined
  }

  function refusal (host: string, rawAddress: string): string | undefined {
    const kind = refusedKind(host, rawAddress)
    return kind == null ? undefined : `${unmapped(bare(rawAddress))} is ${kind}`
  }

  const refuseMessage = (host: string, why: string): string =>
    `webhooks may not target ${bare(host)}: ${why} (PINERY_WEBHOOK_ALLOW can open it)`

  async function resolveChecked (host: string): Promise<Array<{ address: string, family: number }>> {
    const name = bare(host)
    const addresses = isIP(name) !== 0
      ? [{ address: name, family: isIP(name) }]
      : await dnsLookup(name, { all: true, verbatim: true })
    if (addresses.length === 0) throw new Error(`${name} has no address`)
    for (const a of addresses) {
      const kind = refusedKind(name, a.address)
      if (kind == null) continue
      // A name's address is not told: it made a member's webhook an oracle of the operator's internal DNS
      // ("db.internal: 10.1.2.3 is a private address"), in the answer and in the delivery records.
      throw new InvalidRequestError(refuseMessage(name, isIP(name) !== 0
        ? `${unmapped(name)} is ${kind}`
        : `it resolves to ${kind}`))
    }
    return addresses
  }

  return {
    refusal,
    parseUrl (value) {
      let url: URL
      try { url = new URL(value) } catch { throw new InvalidRequestError('url: not a valid absolute URL') }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new InvalidRequestError('url: only http and https URLs can receive webhooks')
      }
      if (url.username !== '' || url.password !== '') {
        throw new InvalidRequestError('url: credentials in the URL are not supported; use the signing secret')
      }
      return url
    },
    async check (url) {
      try {
        await resolveChecked(url.hostname)
      } catch (err) {
        if (err instanceof InvalidRequestError) throw err
        const code = (err as NodeJS.ErrnoException).code
        const why = RESOLVE_ERRORS[code ?? ''] ?? code ?? (err as Error).message
        throw new InvalidRequestError(`url: cannot resolve ${url.hostname}: ${why}`)
      }
    },
    lookup (hostname, options, callback) {
      resolveChecked(hostname).then((addresses) => {
        const first = addresses[0] as { address: string, family: number }
        if ((options as { all?: boolean }).all === true) {
          (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses)
        } else callback(null, first.address, first.family)
      }, (err: Error) => { callback(err as NodeJS.ErrnoException, '', 0) })
    }
  }
}
