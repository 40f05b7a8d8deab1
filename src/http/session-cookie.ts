/**
 * The web app's session cookie (HttpOnly, SameSite=Strict, Path=/, Secure
 * when the page is on https) and the same-origin check that unsafe requests
 * signed in by cookie must pass.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Request, Response } from 'express'

/**
 * Name of the cookie holding the session id of a session signed in on http; each session's cookie has a
 * random suffix of its own (`pinery_session_<8 characters>`). Under the one name, a page on another port of
 * the host that set `pinery_session` with `Path=/` replaced the person's cookie (the browser keeps one per
 * name, host and path) and signed them out; it cannot replace a cookie whose name it cannot read (HttpOnly).
 */
export const SESSION_COOKIE = 'pinery_session'

/**
 * Its name for a session signed in on https: a `__Host-` cookie, which only this host can set (Secure,
 * Path=/, no Domain). A plain name can be set over the real one by any sibling subdomain (Domain=) or a
 * page on another port of the same host (cookies ignore ports), with a longer Path (Path=/content) so the
 * browser sends it first: the victim's uploads then went to the attacker's session, and account.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`

/** The session id a request carries, the cookie's name, and whether it came under a `__Host-` name. */
export interface SessionCookie {
  id: string
  name: string
  secure: boolean
  /**
   * The name came more than once and the request's session key names none of them. Pinery sets one, with
   * Path=/: another is some other site's (a sibling port or subdomain, with Domain= or a longer Path), and
   * without the key which one is the person's cannot be told.
   */
  several: boolean
}

const VALUE = /^[A-Za-z0-9_-]{1,128}$/
/** A session cookie's name: either base name, alone or with a suffix (any such name counts, planted or not). */
const NAME = /^(__Host-)?pinery_session(?:_[A-Za-z0-9_-]{1,32})?$/

/** The session cookies a request carries: name and value, in the order the browser sent them. */
function sessionCookies (req: Request): Array<{ name: string, value: string, secure: boolean }> {
  const found = []
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    const m = NAME.exec(name)
    if (m == null || !VALUE.test(value)) continue
    found.push({ name, value, secure: m[1] != null })
  }
  return found
}

/**
 * Every session cookie of the request's kind (the `__Host-` ones when it carries any), in the order the browser
 * sent them: for a read whose answer is the same to every reader (sharedReads in auth.ts), any of them may serve.
 */
export function sessionCookiesOf (req: Request): Array<{ id: string, name: string, secure: boolean }> {
  const all = sessionCookies(req)
  const secure = all.some(c => c.secure)
  return all.filter(c => c.secure === secure).map(c => ({ id: c.value, name: c.name, secure }))
}

/**
 * The session cookie the request's Cookie header carries, if any (any name NAME matches); a `__Host-` one wins.
 * Of several, the one whose session the request's key names (keyOf: only the page that signed in holds it),
 * and only that one: before, a request carrying the name twice was refused, so a page on another port of
 * the host signed the person out by planting a second one (Path=/pins, /content, …).
 */
export function sessionCookieOf (req: Request): SessionCookie | undefined {
  const cookies = sessionCookiesOf(req)
  const first = cookies[0]
  if (first == null) return undefined
  if (cookies.length === 1) return { ...first, several: false }
  const keyed = cookies.find(c => hasSessionKey(req, c.id))
  return { ...(keyed ?? first), several: keyed == null }
}

/** The request's Origin header as an origin (`scheme://host[:port]`, lower-case), or undefined. */
export function originOf (req: Request): string | undefined {
  const origin = req.headers.origin
  if (origin == null) return undefined
  try {
    const url = new URL(origin)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined
  } catch {
    return undefined // "null", or not a URL
  }
}

/**
 * Whether the page is on https. Pinery serves only http (req.secure is never true), so a page on https
 * is behind a proxy that ends TLS: the browser's Origin says so. Before, the cookie was never Secure,
 * and a browser sent it in clear to http://the-same-host (a typed address, no HSTS), where a network
 * attacker read it.
 */
function isSecure (req: Request): boolean {
  return req.secure || originOf(req)?.startsWith('https:') === true
}

const attributes = (secure: boolean): string => `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`

/**
 * Sets the cookie for a new session (a browser-session cookie: gone when the browser closes), under a name of
 * its own, and drops the session cookies the sign-in carried (ended sessions', a replaced one's, one planted
 * under Path=/): before, the one name was replaced by each sign-in; with names of their own they would pile up.
 */
export function setSessionCookie (req: Request, res: Response, id: string): void {
  const secure = isSecure(req)
  for (const old of new Set(sessionCookies(req).map(c => c.name))) res.append('Set-Cookie', cleared(old))
  const name = `${secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE}_${randomBytes(6).toString('base64url')}`
  res.append('Set-Cookie', `${name}=${id}; ${attributes(secure)}`)
}

const cleared = (name: string): string => `${name}=; Max-Age=0; ${attributes(name.startsWith('__Host-'))}`

/**
 * Tells the browser to drop the session cookie `name`, by default the one the request carried (none: the one its
 * page would have).
 */
export function clearSessionCookie (req: Request, res: Response, name?: string): void {
  res.append('Set-Cookie', cleared(name ?? sessionCookieOf(req)?.name ??
    (isSecure(req) ? SECURE_SESSION_COOKIE : SESSION_COOKIE)))
}

/**
 * True when the request's Origin header names this server: its host and port
 * are the request's Host. The scheme is not compared, so a proxy that ends TLS
 * in front of Pinery needs no configuration (it must pass Host through).
 */
export function sameOrigin (req: Request): boolean {
  const origin = originOf(req)
  const host = req.headers.host
  return origin != null && host != null && new URL(origin).host === host.toLowerCase()
}

/**
 * The header carrying a session's key: given only in the answer to `POST /session`, kept by the page that
 * signed in (its origin's storage, which no other port or subdomain can write). Over plain http (no
 * `__Host-`) a page on another port of this host or a sibling subdomain can plant its own session cookie
 * (signed in with the attacker's token, from curl with any Origin): before, the person's page then showed
 * the attacker's session as theirs and their uploads went to the attacker's account. Their page has no key
 * for that session, so it counts for nothing that matters.
 */
export const SESSION_KEY_HEADER = 'pinery-session-key'

/**
 * A session's key. Not a secret from the session's holder (the attacker knows their own): it only has to
 * be out of reach of a page that did not sign in, which cannot read the HttpOnly cookie it comes from.
 */
export function sessionKeyOf (id: string): string {
  return createHash('sha256').update(`pinery-session-key:${id}`).digest('base64url')
}

/**
 * The session key a request carries: the header only. A `session_key` query parameter was taken on reads
 * (walk15: the backup link and the event stream carried it) and is no longer: a key in a URL lands in the
 * history, the downloads list, proxy logs and Referer. The page reads the event stream with fetch() and the
 * header, and a backup is a shared read of admins (app.ts), so neither needs one in its URL.
 */
function keyOf (req: Request): string | undefined {
  const given = req.headers[SESSION_KEY_HEADER]
  return typeof given === 'string' && given !== '' ? given : undefined
}

/** Whether the request carries a session key at all. */
export function carriesSessionKey (req: Request): boolean {
  return keyOf(req) != null
}

/** Whether the request carries the key of session `id`. */
export function hasSessionKey (req: Request, id: string): boolean {
  const given = keyOf(req)
  if (given == null) return false
  const a = Buffer.from(given)
  const b = Buffer.from(sessionKeyOf(id))
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Whether a request signed in by cookie needs its session's key: every change; `GET /session` (the page's
 * "who am I", so a planted session never shows as the person's); and any request that carries a key at
 * all, which must then be this session's: the page sends its key on every request of its own, so one whose
 * cookie another site has overwritten since gets 401 (sign in again), not the planted session's pins shown
 * as the person's. Not signing out (it ends only the session the cookie names, and clears that cookie).
 * Reads without a key pass with the one cookie they carry (links to /ipfs/…, the backup link).
 */
export function needsSessionKey (req: Request): boolean {
  const session = isPath('/session')(req)
  if (session && req.method === 'DELETE') return false
  return session || !SAFE_METHODS.has(req.method) || keyOf(req) != null
}

/** Whether a request is for `path` as routing sees it (case-insensitive, a trailing slash taken: /Session/). */
export function isPath (path: string): (req: Request) => boolean {
  return req => req.path.toLowerCase().replace(/\/+$/, '') === path
}

/** Methods that change nothing: cookie-signed requests with these need no Origin check. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
