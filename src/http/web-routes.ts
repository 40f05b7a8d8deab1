/**
 * The web app's static files (`web/` of the package): `GET /` is the page,
 * `/app/*` its scripts and styles. They are read once at start, kept in
 * memory with a gzip copy, and served with a strict Content-Security-Policy
 * (nothing from any other host, no inline script or style).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { extname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { Router, type Request, type Response } from 'express'
import { sendFailure } from './errors.js'

/** Settings of the routes. */
export interface WebRoutesInit {
  /** Directory holding index.html and app/. */
  dir: string
}

/** Every page and asset answers with this policy. */
export const WEB_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

interface Asset { type: string, body: Buffer, gzip: Buffer, etag: string }

function load (path: string): Asset {
  const body = readFileSync(path)
  return {
    type: TYPES[extname(path)] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
  }
}

/** The default location of the files: `web/` next to `src/` and `dist/`. */
export function defaultWebDir (): string {
  return fileURLToPath(new URL('../../web/', import.meta.url))
}

/** Builds the router; mount it before authentication (the page itself holds no data). */
export function webRoutes (init: WebRoutesInit): Router {
  const assets = new Map<string, Asset>()
  assets.set('/', load(join(init.dir, 'index.html')))
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`)
      else if (TYPES[extname(entry.name)] != null) assets.set(`${prefix}${entry.name}`, load(join(dir, entry.name)))
    }
  }
  walk(join(init.dir, 'app'), '/app/')

  const send = (req: Request, res: Response, asset: Asset): void => {
    res.setHeader('Content-Security-Policy', WEB_CSP)
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.setHeader('Cache-Control', 'no-cache')
    res.setHeader('ETag', asset.etag)
    res.setHeader('Vary', 'Accept-Encoding')
    res.setHeader('Content-Type', asset.type)
    if (req.headers['if-none-match'] === asset.etag) { res.status(304).end(); return }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
    const body = gzip ? asset.gzip : asset.body
    if (gzip) res.setHeader('Content-Encoding', 'gzip')
    res.setHeader('Content-Length', body.byteLength)
    res.status(200).end(req.method === 'HEAD' ? undefined : body)
  }

  const router = Router()
  router.get(['/', '/app/{*path}'], (req, res, next) => {
    const asset = assets.get(req.path)
    if (asset == null) {
      if (req.path === '/') { next(); return }
      sendFailure(res, 404, 'NOT_FOUND', `no file ${req.path}`)
      return
    }
    send(req, res, asset)
  })
  return router
}
