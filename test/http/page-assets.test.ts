/**
 * The web page itself as served: a strict CSP, no inline script or style, small on first load, cached by
 * content version, gzipped only for clients that ask.
 */
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

let svc: TestService

beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
afterAll(async () => { await svc.destroy() })

describe('the page', () => {
  it('is served with a strict CSP, no inline script or style, and at most 150 KiB gzipped on first load', async () => {
    const res = await fetch(`${svc.url}/`, { headers: { 'accept-encoding': 'gzip' } })
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'self'")
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/)
    const html = await res.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/\sstyle=|<style/)
    expect(html).not.toMatch(/https?:\/\//) // nothing from another host
    // Every asset the page loads (the module graph is static imports from /app/main.js).
    const assets = new Set<string>(['/'])
    const queue = [...html.matchAll(/(?:href|src)="(\/app\/[^"]+)"/g)].map(m => m[1] as string)
    while (queue.length > 0) {
      const path = queue.shift() as string
      if (assets.has(path)) continue
      assets.add(path)
      if (!path.endsWith('.js')) continue
      const text = await (await fetch(`${svc.url}${path}`)).text()
      for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        queue.push(new URL(m[1] as string, `http://x${path}`).pathname)
      }
    }
    let gzipped = 0
    for (const path of assets) {
      const raw = await fetch(`${svc.url}${path}`, { headers: { 'accept-encoding': 'gzip' } })
      expect(raw.status, path).toBe(200)
      expect(raw.headers.get('content-security-policy'), path).toBe(csp)
      gzipped += Number(raw.headers.get('content-length') ?? 0)
    }
    expect(assets.size).toBeGreaterThan(8)
    // Files live under a content version and are cached for good; the page is revalidated.
    expect(res.headers.get('cache-control')).toBe('no-cache')
    const main = [...assets].find(p => p.endsWith('/main.js')) as string
    expect(main).toMatch(/^\/app\/[A-Za-z0-9_-]{12}\/main\.js$/)
    expect((await fetch(`${svc.url}${main}`)).headers.get('cache-control')).toMatch(/immutable/)
    expect(gzipped).toBeLessThan(150 * 1024)
    console.log(`first load: ${assets.size} files, ${gzipped} bytes gzipped`)
  })

  it('serves gzip only to clients that ask, and 404s unknown assets', async () => {
    const { request } = await import('node:http')
    const body = await new Promise<Buffer>((resolve, reject) => {
      request(`${svc.url}/app/main.js`, { headers: { 'accept-encoding': 'gzip' } }, res => {
        expect(res.headers['content-encoding']).toBe('gzip')
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
          .on('end', () => { resolve(Buffer.concat(chunks)) })
          .on('error', reject)
      }).end()
    })
    expect(gunzipSync(body).toString()).toContain('navigate')
    expect((await fetch(`${svc.url}/app/nope.js`)).status).toBe(404)
  })
})
