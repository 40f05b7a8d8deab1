/**
 * The web app's session cookie (HttpOnly, SameSite=Strict, Path=/, Secure
 * when the page is on https) and the same-origin check that unsafe requests
 * signed in by cookie must pass.
 */
import type { Request, Response } from 'express'

/** Name of the cookie holding the session id. */
export const SESSION_COOKIE = 'pinery_session'

const VALUE = /^[A-Za-z0-9_-]{1,128}$/

/** The session id the request's Cookie header carries, if any. */
export function sessionCookieOf (req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue
    const value = part.slice(eq + 1).trim()
    if (VALUE.test(value)) return value
  }
  return undefined
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
 * Pinery serves only http (req.secure is never true), so a page on https is behind a proxy that ends TLS:
 * the browser's Origin says so. Before, the cookie was never Secure, and a browser sent it in clear to
 * http://the-same-host (a typed address, no HSTS), where a network attacker read it.
 */
function attributes (req: Request): string {
  const secure = req.secure || originOf(req)?.startsWith('https:') === true
  return `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
}

/** Sets the cookie for a new session (a browser-session cookie: gone when the browser closes). */
export function setSessionCookie (req: Request, res: Response, id: string): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=${id}; ${attributes(req)}`)
}

/** Tells the browser to drop the cookie. */
export function clearSessionCookie (req: Request, res: Response): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=; Max-Age=0; ${attributes(req)}`)
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

/** Methods that change nothing: cookie-signed requests with these need no Origin check. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
