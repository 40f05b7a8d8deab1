/**
 * The web app's static files (`web/` of the package): `GET /` is the page,
 * `/app/<version>/*` its scripts and styles (cached for good; the version
 * changes with their content). They are read once at start, kept in memory
 * with a gzip copy, and served with a strict Content-Security-Policy
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
export const WEB_CSP = [
  "default-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'", "object-src 'none'"
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

interface Asset { type: string, body: Buffer, gzip: Buffer, etag: string, immutable?: boolean }

function asset (path: string, body: Buffer): Asset {
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
  // The files of app/, by their path below it.
  const files = new Map<string, Buffer>()
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`)
      else if (TYPES[extname(entry.name)] != null) {
        files.set(`${prefix}${entry.name}`, readFileSync(join(dir, entry.name)))
      }
    }
  }
  walk(join(init.dir, 'app'), '')
  // Each version of the files gets its own path, /app/<version>/…, cached for good: a repeat
  // visit revalidates only the page itself. Relative imports between modules stay in the version.
  const hash = createHash('sha256')
  for (const [path, body] of [...files].sort(([a], [b]) => a < b ? -1 : 1)) hash.update(path).update(body)
  const version = hash.digest('base64url').slice(0, 12)
  const assets = new Map<string, Asset>()
  for (const [path, body] of files) {
    assets.set(`/app/${path}`, asset(path, body))
    assets.set(`/app/${version}/${path}`, { ...asset(path, body), immutable: true })
  }
  const html = readFileSync(join(init.dir, 'index.html'), 'utf8').replaceAll('"/app/', `"/app/${version}/`)
  assets.set('/', asset('index.html', Buffer.from(html)))

  const send = (req: Request, res: Response, asset: Asset): void => {
    res.setHeader('Content-Security-Policy', WEB_CSP)
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.setHeader('Cache-Control', asset.immutable === true ? 'private, max-age=31536000, immutable' : 'no-cache')
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
