/**
 * CORS for browser apps, off unless origins are configured. Preflights are
 * answered before authentication (browsers send them without credentials).
 */
import type { RequestHandler } from 'express'

/** Allowed origins: exact origins, or '*' for any. Empty turns CORS off. */
export function cors (origins: string[]): RequestHandler {
  const any = origins.includes('*')
  const allowed = new Set(origins)
  return (req, res, next) => {
    const origin = req.headers.origin
    if (origins.length === 0 || origin == null || (!any && !allowed.has(origin))) { next(); return }
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin)
    res.setHeader('Vary', 'Origin')
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After')
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] != null) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE')
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      res.setHeader('Access-Control-Max-Age', '600')
      res.status(204).end()
      return
    }
    next()
  }
}
