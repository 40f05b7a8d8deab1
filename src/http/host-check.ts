/**
 * DNS rebinding. A web page on attacker.example whose name the attacker then
 * points at this node (or at 127.0.0.1, for the default binding) is, to the
 * browser, the same origin as Pinery's answers: it reads whatever Pinery
 * answers without credentials (`GET /health`, `/metrics` without
 * `PINERY_METRICS_TOKEN`, `/ipfs` with `PINERY_GATEWAY_AUTH=none`). Its
 * requests carry its own name in `Host`, so those routes answer only a Host
 * that names this node: an IP literal, `localhost`, the machine's own host
 * name, `PINERY_HTTP_HOST`, or a name of `PINERY_ALLOWED_HOSTS`. A request
 * with valid credentials passes under any name (a page of the attacker holds
 * none: the session cookie belongs to the real name), so kubo, the official
 * client and the web app by a LAN name keep working; the check guards only
 * the routes that answer without credentials, because everything else
 * already needs them.
 *
 * Like Transmission's host whitelist (checked only without authentication) and
 * webpack-dev-server's `allowedHosts: 'auto'` (IP literals, localhost, the host
 * it was told), not Jupyter's (no check at all once bound beyond loopback):
 * a node bound to a LAN address is still read through a LAN browser.
 */
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { ForbiddenError, isErrorNamed, UnauthorizedError } from '../errors.js'
import type { RequestHandler } from 'express'

/** Settings of the check. */
export interface HostCheckInit {
  /** PINERY_ALLOWED_HOSTS: names (`pinery.lan`), domains with every name below (`.home.arpa`), or `*` (no check). */
  allowed: string[]
  /** PINERY_HTTP_HOST, allowed when it is a name. */
  bindHost?: string
  /** The machine's host name (default os.hostname()). */
  machine?: string
}

/** An entry of PINERY_ALLOWED_HOSTS: `*`, a DNS name, or `.` and a domain. */
export const ALLOWED_HOST = /^(\*|\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/

/**
 * What a Host header may hold (RFC 9110: a name or an address, and a port). Checked before the URL parser
 * is asked: it reads `evil.example@127.0.0.1` as userinfo and the host 127.0.0.1, which passed.
 */
const HOST_HEADER = /^([a-z0-9_.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/i

/** The host name a Host header names (lower case, no port, brackets or trailing dot), or undefined. */
function nameOf (host: string): string | undefined {
  if (!HOST_HEADER.test(host)) return undefined
  try {
    const name = new URL(`http://${host}`).hostname.toLowerCase()
    return (name.startsWith('[') ? name.slice(1, -1) : name).replace(/\.$/, '')
  } catch {
    return undefined
  }
}

/** Whether a request's Host header names this node. */
export function allowedHosts (init: HostCheckInit): (host: string | undefined) => boolean {
  if (init.allowed.includes('*')) return () => true
  const machine = (init.machine ?? hostname()).toLowerCase()
  const label = machine.split('.')[0] as string
  const listed = init.allowed.filter(a => !a.startsWith('.'))
  const names = new Set([machine, label, `${label}.local`, 'localhost', ...listed])
  if (init.bindHost != null && isIP(init.bindHost) === 0) names.add(init.bindHost.toLowerCase())
  const domains = init.allowed.filter(a => a.startsWith('.')).map(a => a.slice(1))
  return (host) => {
    // Browsers always send Host: a request without one is no page's.
    if (host == null) return true
    const name = nameOf(host)
    if (name == null) return false
    return isIP(name) !== 0 || names.has(name) || name.endsWith('.localhost') ||
      domains.some(d => name === d || name.endsWith(`.${d}`))
  }
}

/**
 * Refuses (403) a request to a route answering without credentials when its Host is not one of this node's
 * names, unless `authenticate` (the API's own authentication) accepts its credentials.
 */
export function hostCheck (
  allowed: (host: string | undefined) => boolean, authenticate: RequestHandler
): RequestHandler {
  return async (req, res, next) => {
    if (allowed(req.headers.host)) { next(); return }
    const refused = new ForbiddenError(`this node does not answer for the name ${nameOf(req.headers.host ?? '') ??
      'given'} without credentials (DNS rebinding); reach it by an address, localhost or a name of ` +
      'PINERY_ALLOWED_HOSTS, or send a token')
    if (req.headers.authorization == null && req.headers.cookie == null) throw refused
    try {
      await authenticate(req, res, (err?: unknown) => { if (err != null) throw err })
    } catch (err) {
      if (isErrorNamed(err, UnauthorizedError.name) || isErrorNamed(err, ForbiddenError.name)) throw refused
      throw err
    }
    next()
  }
}
