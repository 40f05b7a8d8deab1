/**
 * Links to a pin's content from outside the page, in real Chromium: a link on another page, an address typed
 * into a new tab, a link from the history or from a teammate's address bar. Before, the page's own links
 * carried its session key (`session_key`), and a link without it (or with another session's) answered 401
 * whenever a second session cookie covered /ipfs (one planted by another port of the host, an ended
 * session's): which cookie is the person's cannot be told. The gateway's answer is the same to every reader,
 * so any of the request's sessions that may read now serves it; everything else still needs the key.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { otherSite, pinFromPage, pinNames, signIn, uploadThroughPage, useWebApp } from '../fixtures/browser.js'

const web = useWebApp({ users: ['alice', 'mallory', 'bob'] })
const TEXT = 'minutes of the Tuesday meeting'
let site: Awaited<ReturnType<typeof otherSite>>
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinery-outside-links-'))
  const planted = (await web.svc.signIn('mallory')).cookie
  site = await otherSite((req, out) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/plant') {
      // Mallory's live session and an ended one, under /ipfs: sent before the person's (Path=/).
      out.writeHead(200, {
        'content-type': 'text/html',
        'set-cookie': [`${planted}; Path=/ipfs`, `pinery_session_ended00=${'A'.repeat(43)}; Path=/ipfs`]
      })
      out.end('<!doctype html><title>free cat pictures</title>')
      return
    }
    // A page linking to the file, as a wiki or a chat would.
    const to = (url.searchParams.get('to') ?? '').replaceAll('"', '')
    out.writeHead(200, { 'content-type': 'text/html' })
    out.end(`<!doctype html><title>wiki</title><a id="go" href="${to}">the minutes</a>`)
  })
}, 120_000)
afterAll(async () => {
  site?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('a link to a pin\'s content from outside the page', () => {
  it('opens for the person with a second session cookie under /ipfs, from another page, a typed address and ' +
    'the history; reads of their own and changes still need the page\'s key', async () => {
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await uploadThroughPage(page, dir, 'minutes.txt', TEXT)
      await page.locator('.detail h1').filter({ hasText: 'minutes.txt' }).waitFor()
      await expect.poll(async () => await page.getByLabel('file preview').textContent()).toBe(TEXT)
      // The page's links name no session (old page: each carried ?session_key=…, into the history).
      const open = await page.getByRole('link', { name: 'Open', exact: true }).getAttribute('href') ?? ''
      const hrefs = await page.locator('.detail a.button[href^="/ipfs/"]')
        .evaluateAll(as => as.map(a => a.getAttribute('href') ?? ''))
      expect(hrefs.length).toBe(3)
      expect(hrefs.filter(h => h.includes('session_key'))).toEqual([])
      const link = new URL(open, web.svc.url).href.replace(/\?.*$/, '')

      const tab = await context.newPage()
      await tab.goto(`${site.url}plant`)
      expect((await context.cookies(link)).filter(c => c.name.startsWith('pinery_session')).length).toBe(3)

      // A link on another page (same site: the SameSite=Strict cookie goes along). Old code: 401.
      await tab.goto(`${site.url}wiki?to=${encodeURIComponent(link)}`)
      const followed = tab.waitForResponse(res => res.url() === link)
      await tab.locator('#go').click()
      expect((await followed).status()).toBe(200)
      expect(await tab.locator('body').textContent()).toBe(TEXT)
      // Typed into a new tab, and from the history of another session (this person's phone). Old code: 401.
      const phone = await web.svc.signIn('alice')
      for (const url of [link, `${link}?session_key=${phone.key}`]) {
        expect((await tab.goto(url))?.status(), url).toBe(200)
        expect(await tab.locator('body').textContent()).toBe(TEXT)
      }
      await tab.close()

      // What walk15 defended stands: the person is still signed in as themselves, their change is theirs,
      // and a read of their own or a change without the page's key is refused.
      await page.goto(`${web.svc.url}/#/pins`)
      await page.locator('td.name').filter({ hasText: 'minutes.txt' }).waitFor()
      expect(await pinFromPage(page, 'meant-for-alice')).toBe(202)
      expect(await pinNames(web.svc, 'alice')).toContain('meant-for-alice')
      expect(await pinNames(web.svc, 'mallory')).toEqual([])
      const keyless = await page.evaluate(async () => [
        // A key naming none of its sessions (a `session_key` in the URL is no key any more).
        (await fetch('/pins', { headers: { 'pinery-session-key': 'x' } })).status,
        (await fetch('/ipfs/bafkqaaa', { method: 'DELETE' })).status,
        (await fetch('/pins', {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"cid":"bafkqaaa"}'
        })).status
      ])
      expect(keyless).toEqual([401, 401, 401])
    } finally {
      await context.close()
    }
  })

  it('opens for a teammate whose link, copied from the person\'s address bar, carries the person\'s key',
    async () => {
      const { context, page } = await web.open()
      try {
        const alice = await web.svc.signIn('alice')
        const upload = await web.svc.request('/content?name=shared.txt', { user: 'alice', method: 'POST', body: TEXT })
        const cid = (await upload.json() as { pin: { cid: string } }).pin.cid
        await signIn(page, web.svc.tokens.bob as string)
        // As walk15's page made its Open link. Old code: 401, the key names none of bob's sessions.
        const res = await page.goto(`${web.svc.url}/ipfs/${cid}?session_key=${alice.key}`)
        expect(res?.status()).toBe(200)
        expect(await page.locator('body').textContent()).toBe(TEXT)
      } finally {
        await context.close()
      }
    })
})
