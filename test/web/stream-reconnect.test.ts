/**
 * The page reads its event stream again when it ends, in real Chromium. EventSource did that by itself; the
 * page's fetch() reader (no key in the URL) fell back to polling once a second for as long as a pin was in
 * flight after the first end (a proxy's idle timeout, a restart of the service).
 */
import { describe, expect, it } from 'vitest'
import { signIn, useWebApp } from '../fixtures/browser.js'

const web = useWebApp({ users: ['alice'] })
// A CID no peer has: its pin stays in flight, so the pins page follows it by the event stream.
const UNREACHABLE = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

describe('the page\'s event stream', () => {
  it('is read again after it ends, and the page does not fall back to polling', async () => {
    const { context, page } = await web.open()
    try {
      const streams: number[] = []
      const polls: string[] = []
      let cut = true
      // The first stream the page opens ends at once, as a proxy closing it would.
      await page.route('**/events', async (route) => {
        if (!cut) { await route.continue(); return }
        cut = false
        await route.fulfill({ status: 200, contentType: 'text/event-stream', body: ': pinery events\n\n' })
      })
      context.on('request', req => {
        const url = new URL(req.url())
        if (url.pathname === '/events') streams.push(Date.now())
        if (url.pathname === '/pins' && url.searchParams.get('limit') === '1000') polls.push(url.search)
      })
      await signIn(page, web.svc.tokens.alice as string)
      expect((await web.svc.call('POST', '/pins', 'alice', { cid: UNREACHABLE, name: 'far away' })).status).toBe(202)
      await page.reload()
      await page.locator('td.name').filter({ hasText: 'far away' }).waitFor()
      await expect.poll(() => streams.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
      // Past the time polling would have asked twice.
      await new Promise(resolve => setTimeout(resolve, 2500))
      expect(polls).toEqual([])
      expect(streams).toHaveLength(2)
    } finally {
      await context.close()
    }
  })
})
