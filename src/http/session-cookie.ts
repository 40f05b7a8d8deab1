/**
 * The web app's session cookie (HttpOnly, SameSite=Strict, Path=/, Secure
 * over https) and the same-origin check that unsafe requests signed in by
 * cookie must pass.
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

function attributes (req: Request): string {
  return `Path=/; HttpOnly; SameSite=Strict${req.secure ? '; Secure' : ''}`
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
  const origin = req.headers.origin
  const host = req.headers.host
  if (origin == null || host == null) return false
  try {
    const url = new URL(origin)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase()
  } catch {
    return false // "null", or not a URL
  }
}

/** Methods that change nothing: cookie-signed requests with these need no Origin check. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
