/**
 * DNS rebinding, in real Chromium: a page on attacker.example whose name then resolves to the node (here
 * Chromium's --host-resolver-rules stands for the attacker's DNS) is the same origin as Pinery's answers
 * to the browser. Before, it read what Pinery answers without credentials: GET /health (peer ID, version,
 * queue), /metrics, and the gateway with PINERY_GATEWAY_AUTH=none. Those now answer only by the node's
 * names, or with credentials; the web app by a name not listed still works once signed in, and token
 * clients reach the API by any name.
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startService, type TestService } from '../fixtures/service.js'
import { CHROMIUM_ARGS, chromiumBin } from '../fixtures/tools.js'
import { otherSite } from '../fixtures/browser.js'
import { postContent } from '../fixtures/content.js'
import { loadConfig } from '../../src/config.js'

let svc: TestService
let browser: Browser
let port: string
let cid: string
let health: string

beforeAll(async () => {
  svc = await startService({ env: { PINERY_GATEWAY_AUTH: 'none', PINERY_ALLOWED_HOSTS: 'pinery.lan' } })
  port = new URL(svc.url).port
  const res = await postContent(svc, 'a file meant for this network only',
    { user: 'admin', query: { name: 'lan.txt' } })
  cid = (await res.json() as { pin: { cid: string } }).pin.cid
  health = JSON.stringify(await (await svc.request('/health')).json())
  // Every name below resolves to the node, as attacker.example does once the attacker rebinds it.
  const rules = ['attacker.example', 'nas.example', 'pinery.lan'].map(n => `MAP ${n} 127.0.0.1`).join(', ')
  browser = await chromium.launch({
    executablePath: chromiumBin(), args: [...CHROMIUM_ARGS, `--host-resolver-rules=${rules}`], timeout: 60_000
  })
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await svc?.destroy()
})

/**
 * A page at `http://<name>:<port>/`. For the attacker's, any document of that origin serves: once the name
 * resolves to the node its scripts run as that origin (the attacker's own page, loaded before the
 * rebinding, is not needed to show what they read).
 */
async function pageAt (name: string, attack: boolean): Promise<{ page: Page, close: () => Promise<void> }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(30_000)
  await page.goto(`http://${name}:${port}/${attack ? 'attack' : ''}`)
  return { page, close: async () => { await context.close() } }
}

/** What a same-origin fetch by the page reads: status and body. */
async function read (page: Page, path: string): Promise<{ status: number, body: string }> {
  return await page.evaluate(async (p) => {
    const res = await fetch(p, { credentials: 'same-origin' })
    return { status: res.status, body: await res.text() }
  }, path)
}

describe('a page whose name is rebound to the node', () => {
  it('reads nothing that needs no credentials', async () => {
    const { page, close } = await pageAt('attacker.example', true)
    try {
      for (const path of ['/health', '/metrics', `/ipfs/${cid}`]) {
        const { status, body } = await read(page, path)
        expect({ path, status }).toEqual({ path, status: 403 })
        expect(JSON.parse(body)).toMatchObject({ error: { reason: 'FORBIDDEN', details: /PINERY_ALLOWED_HOSTS/ } })
        expect(body).not.toContain(JSON.parse(health).peerId as string)
        expect(body).not.toContain('meant for this network')
      }
      // Nor with credentials of its own making.
      const forged = await page.evaluate(async () => (await fetch('/health', {
        headers: { authorization: 'Bearer pinery_made-up' }
      })).status)
      expect(forged).toBe(403)
    } finally {
      await close()
    }
  })
})

describe('the node by its own names', () => {
  it('answers by address, localhost and a name of PINERY_ALLOWED_HOSTS', async () => {
    for (const name of ['127.0.0.1', 'localhost', 'pinery.lan']) {
      const { page, close } = await pageAt(name, false)
      try {
        expect((await read(page, '/health')).status).toBe(200)
        expect((await read(page, '/metrics')).status).toBe(200)
        expect(await read(page, `/ipfs/${cid}`)).toEqual({ status: 200, body: 'a file meant for this network only' })
      } finally {
        await close()
      }
    }
  })

  it('serves the web app by a name not listed, and its signed-in pages read /health', async () => {
    const { page, close } = await pageAt('nas.example', false)
    try {
      await page.getByLabel('Access token').fill(svc.tokens.admin as string)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.locator('#who').waitFor({ state: 'visible' })
      expect((await read(page, '/health')).status).toBe(200)
    } finally {
      await close()
    }
  })

  it('shows the admin page\'s node health with a second session cookie planted from another port', async () => {
    // Another session's cookie, set for /health by a page on another port of the same name.
    const planted = (await svc.signIn('admin')).cookie
    const other = await otherSite((_req, out) => {
      out.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `${planted}; Path=/health` })
      out.end('<!doctype html><title>another app on the NAS</title>')
    })
    const { page, close } = await pageAt('nas.example', false)
    try {
      await page.getByLabel('Access token').fill(svc.tokens.admin as string)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.locator('#who').waitFor({ state: 'visible' })
      const tab = await page.context().newPage()
      await tab.goto(`http://nas.example:${other.port}/`)
      await tab.close()
      await page.goto(`http://nas.example:${port}/#/admin`)
      // Old page code: its GET /health carried no key, got 401 for the two cookies, and showed the error.
      await page.getByText('Peer ID').waitFor()
      expect(await page.getByText(JSON.parse(health).peerId as string).count()).toBeGreaterThan(0)
    } finally {
      await close()
      other.close()
    }
  })
})

/** GET `path` with a Host header of our choosing (fetch may not set it), as kubo or a proxy would. */
async function getAs (host: string, path: string, token?: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host }
    if (token != null) headers.authorization = `Bearer ${token}`
    request(`${svc.url}${path}`, { headers }, res => { res.resume(); resolve(res.statusCode ?? 0) })
      .on('error', reject).end()
  })
}

describe('clients that are not browsers', () => {
  it('reach the API and /health by any name with a token; without one, by the node\'s names', async () => {
    expect(await getAs(`anything.example:${port}`, '/pins', svc.tokens.admin)).toBe(200)
    expect(await getAs(`anything.example:${port}`, '/health', svc.tokens.admin)).toBe(200)
    expect(await getAs(`anything.example:${port}`, '/health')).toBe(403)
    expect(await getAs(`[::1]:${port}`, '/health')).toBe(200)
    expect(await getAs(`sub.pinery.lan:${port}`, '/health')).toBe(403)
    expect(await getAs(`PINERY.LAN.:${port}`, '/health')).toBe(200)
    // Not a host name: the URL parser read what follows `@` as the host.
    expect(await getAs(`evil.example@127.0.0.1:${port}`, '/health')).toBe(403)
    expect(await getAs(`evil.example:${port}@localhost`, '/health')).toBe(403)
  })

  it('refuses a setting that names no host (a URL, a port), naming the variable', () => {
    for (const bad of ['http://pinery.lan', 'pinery.lan:7070', 'a b']) {
      expect(() => loadConfig({ PINERY_ALLOWED_HOSTS: bad })).toThrow(/PINERY_ALLOWED_HOSTS/)
    }
    expect(loadConfig({ PINERY_ALLOWED_HOSTS: 'Pinery.LAN., .home.arpa' }).allowedHosts)
      .toEqual(['pinery.lan', '.home.arpa'])
  })
})
