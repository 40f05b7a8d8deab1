/**
 * Login CSRF over plain http, in real Chromium. Plain http has no `__Host-` cookies, and cookies ignore
 * ports: a page on another port of Pinery's host (or a sibling subdomain) can set `pinery_session` to a
 * session the attacker signed in to with their own token (from curl, with any Origin). Before, the
 * person's page then showed that session as theirs, and what they uploaded went to the attacker's
 * account. Now a session counts for changes and for GET /session only with the key its own sign-in gave
 * the page, which a page on another origin cannot put in this origin's storage.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { launchBrowser, openApp, otherSite, pinNames, signIn, uploadThroughPage } from '../fixtures/browser.js'
import type { Browser } from 'playwright-core'

let svc: TestService
let browser: Browser
let attacker: Awaited<ReturnType<typeof otherSite>>
let attackerUrl: string
let dir: string
let planted: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinery-planted-'))
  svc = await startService({ users: ['alice', 'mallory'] })
  browser = await launchBrowser()
  // Mallory signs in as herself, from a script that sends Pinery's own origin.
  planted = (await svc.signIn('mallory')).cookie
  // Her page on another port of the same host plants that cookie, for every port of the host.
  attacker = await otherSite((req, out) => {
    if (req.url?.startsWith('/form') === true) {
      // Or her page posts the sign-in itself, as a form (text/plain makes the body her JSON).
      const referrer = req.url.includes('no-referrer') ? '<meta name="referrer" content="no-referrer">' : ''
      // Sent as {"token":"=","token":"<hers>"}: JSON.parse keeps the last of a repeated name.
      out.writeHead(200, { 'content-type': 'text/html' })
      out.end(`<!doctype html>${referrer}<form method="post" action="${svc.url}/session" enctype="text/plain">` +
        `<input name='{"token":"' value='","token":"${svc.tokens.mallory}"}'></form>` +
        '<script>document.forms[0].submit()</script>')
      return
    }
    out.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `${planted}; Path=/` })
    out.end('<!doctype html><title>free cat pictures</title>')
  })
  attackerUrl = attacker.url
}, 120_000)
afterAll(async () => {
  attacker?.close()
  await browser?.close()
  await svc?.destroy()
  await rm(dir, { recursive: true, force: true })
})

describe('a session cookie planted by a page on another port', () => {
  it('is not the person\'s session: the page asks them to sign in, and nothing lands in the attacker\'s account',
    async () => {
      const { context, page } = await openApp(browser, svc.url)
      try {
        await page.goto(attackerUrl)
        expect((await context.cookies(svc.url)).map(c => c.name)).toContain(planted.split('=')[0])
        await page.goto(svc.url)
        // Old code: signed in as mallory.
        await Promise.race([page.getByLabel('Access token').waitFor(), page.locator('#who').waitFor()])
        expect(await page.locator('#who').isVisible() ? await page.locator('#who-name').textContent() : 'signed out')
          .toBe('signed out')
        // What the page's upload sends (its session key, which it has none of here), with the planted cookie.
        const status = await page.evaluate(async () => {
          const headers: Record<string, string> = { 'content-type': 'text/plain' }
          const key = localStorage.getItem('pinery.sessionKey')
          if (key != null) headers['pinery-session-key'] = key
          return (await fetch('/content?name=victim-secret.txt', { method: 'POST', headers, body: 'private' })).status
        })
        expect(status).toBe(401)

        // Signing in replaces the planted cookie; the upload is the person's own.
        await signIn(page, svc.tokens.alice as string)
        expect(await page.locator('#who-name').textContent()).toBe('alice · pins:write token')
        await uploadThroughPage(page, dir, 'victim-notes.txt', 'notes of the person at the keyboard')
        await page.locator('.detail h1').filter({ hasText: 'victim-notes.txt' }).waitFor()
        expect(await pinNames(svc, 'alice')).toContain('victim-notes.txt')
        expect(await pinNames(svc, 'mallory')).toEqual([])
      } finally {
        await context.close()
      }
    })

  it('is not the person\'s even when planted after they signed in: their changes stay theirs',
    async () => {
      const { context, page } = await openApp(browser, svc.url)
      try {
        await signIn(page, svc.tokens.alice as string)
        const tab = await context.newPage()
        await tab.goto(attackerUrl) // Path=/, but a name other than the person's cookie's: both are sent
        await tab.close()
        const status = await page.evaluate(async () => (await fetch('/pins', {
          method: 'POST',
          headers: {
            'content-type': 'application/json', 'pinery-session-key': localStorage.getItem('pinery.sessionKey') ?? ''
          },
          body: JSON.stringify({ cid: 'bafkqaaa', name: 'meant-for-alice' })
        })).status)
        // The page's key names its own cookie (under the one name of old the planted one replaced it: 401).
        expect(status).toBe(202)
        expect(await pinNames(svc, 'alice')).toContain('meant-for-alice')
        expect(await pinNames(svc, 'mallory')).toEqual([])
      } finally {
        await context.close()
      }
    })

  it('cannot be made by the attacker\'s page posting the sign-in form: 403, no cookie', async () => {
    // The body the form sends is a sign-in Pinery takes from its own origin.
    const body = `{"token":"=","token":"${svc.tokens.mallory}"}\r\n`
    const own = await fetch(`${svc.url}/session`,
      { method: 'POST', headers: { origin: svc.url, 'content-type': 'text/plain' }, body })
    expect(own.status).toBe(200)
    for (const path of ['form', 'form?no-referrer']) {
      const { context, page } = await openApp(browser, svc.url)
      try {
        const [answer] = await Promise.all([
          page.waitForResponse(res => res.url() === `${svc.url}/session` && res.request().method() === 'POST'),
          page.goto(`${attackerUrl}${path}`)
        ])
        expect(answer.status()).toBe(403)
        expect(await answer.json()).toMatchObject({ error: { reason: 'FORBIDDEN' } })
        expect((await context.cookies(svc.url)).filter(c => c.name.startsWith('pinery_session'))).toEqual([])
      } finally {
        await context.close()
      }
    }
  })
})
