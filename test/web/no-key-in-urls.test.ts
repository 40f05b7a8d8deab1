/**
 * No session key in any URL the page asks for, in real Chromium. Before, the backup link and the event stream
 * (EventSource, which cannot send a header) carried `?session_key=…`, into the history, the downloads list,
 * proxy logs and Referer. Now the stream is read with fetch() and the key's header, and a backup is a shared
 * read of admins (any admin session among the request's cookies serves it, as the gateway's reads do), so both
 * still work with a second session cookie planted over their paths. Another page cannot read either with the
 * person's cookie: a cross-site one never gets the cookie sent (SameSite=Strict), no CORS answer grants
 * credentials, and the server refuses the stream or a backup started by another origin (Sec-Fetch-Site), which
 * a page on another port of the host (the same site: the cookie goes along) could do before.
 */
import { describe, expect, it } from 'vitest'
import { otherSite, signIn, useWebApp } from '../fixtures/browser.js'

declare const window: any, EventSource: any

const web = useWebApp({ users: ['alice', 'mallory'] })
// A CID no peer has: its pin stays in flight, so the pins page follows it by the event stream.
const UNREACHABLE = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

describe('the event stream and the backup', () => {
  it('carry no session key in their URLs, and work with a second session cookie planted over their paths',
    async () => {
      const planted = (await web.svc.signIn('mallory')).cookie
      const site = await otherSite((_req, out) => {
        out.writeHead(200, {
          'content-type': 'text/html', 'set-cookie': [`${planted}; Path=/events`, `${planted}; Path=/backup`]
        })
        out.end('<!doctype html><title>free cat pictures</title>')
      })
      const { context, page } = await web.open()
      try {
        const asked: Array<{ url: string, status: number }> = []
        const urls: string[] = []
        context.on('request', req => { urls.push(req.url()) })
        context.on('response', res => { asked.push({ url: res.url(), status: res.status() }) })
        await signIn(page, web.svc.tokens.admin as string)
        const tab = await context.newPage()
        await tab.goto(site.url)
        await tab.close()
        expect((await web.svc.call('POST', '/pins', 'admin', { cid: UNREACHABLE, name: 'far away' })).status)
          .toBe(202)
        await page.reload()
        await page.locator('td.name').filter({ hasText: 'far away' }).waitFor()
        await expect.poll(() => asked.find(a => new URL(a.url).pathname === '/events')?.status).toBe(200)

        await page.getByRole('link', { name: 'Administration' }).click()
        const [download] = await Promise.all([
          page.waitForEvent('download'), page.getByRole('link', { name: 'Download a backup' }).click()
        ])
        expect(await download.failure()).toBeNull()
        expect(download.suggestedFilename()).toMatch(/^pinery-backup-.*\.tar$/)
        // Old page: /events?session_key=… and /backup?session_key=….
        expect(download.url()).toBe(`${web.svc.url}/backup`)
        expect(urls.filter(u => /session_key/i.test(u))).toEqual([])
      } finally {
        await context.close()
        site.close()
      }
    })

  it('cannot be read or started by another page with the person\'s cookie', async () => {
    const pinery = web.svc.url
    const evil = await otherSite((_req, out) => {
      out.writeHead(200, { 'content-type': 'text/html' })
      out.end(`<!doctype html><title>free cat pictures</title><a id="backup" href="${pinery}/backup">b</a>` +
        `<a id="events" href="${pinery}/events">e</a>`)
    })
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.admin as string)
      // A page on another port of the host: the same site, so the SameSite=Strict cookie goes along.
      const tab = await context.newPage()
      await tab.goto(evil.url)
      const read = await tab.evaluate(async (url: string) => {
        const outcome = async (f: () => Promise<unknown>): Promise<string> => {
          try { await f(); return 'read' } catch { return 'refused' }
        }
        return {
          events: await outcome(async () => await (await fetch(`${url}/events`, { credentials: 'include' })).text()),
          backup: await outcome(async () => await (await fetch(`${url}/backup`, { credentials: 'include' })).blob()),
          source: await new Promise<string>(resolve => {
            const source = new EventSource(`${url}/events`, { withCredentials: true })
            source.onopen = () => { source.close(); resolve('read') }
            source.onerror = () => { source.close(); resolve('refused') }
          })
        }
      }, pinery)
      expect(read).toEqual({ events: 'refused', backup: 'refused', source: 'refused' })
      // Links the person is lured into clicking there: refused, nothing written (old code: 200, a backup
      // written into the person's downloads and the one-backup lock held, the stream held open).
      for (const [id, path] of [['#backup', '/backup'], ['#events', '/events']]) {
        await tab.goto(evil.url)
        const answer = tab.waitForResponse(res => new URL(res.url()).pathname === path)
        await tab.locator(id as string).click()
        expect((await answer).status(), path).toBe(403)
      }
      expect(await tab.evaluate(() => window.location.pathname)).toBe('/events')
      expect(await tab.locator('body').textContent()).toMatch(/started only by this node's own page/)
      // The person's own page still downloads one.
      await page.getByRole('link', { name: 'Administration' }).click()
      const [download] = await Promise.all([
        page.waitForEvent('download'), page.getByRole('link', { name: 'Download a backup' }).click()
      ])
      expect(await download.failure()).toBeNull()
    } finally {
      await context.close()
      evil.close()
    }
  })
})
