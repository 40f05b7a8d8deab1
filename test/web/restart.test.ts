/**
 * The operator restarts Pinery while a person watches a pin that is still fetching: sessions live in memory,
 * so the page asks to sign in again and says why (old code: "missing Authorization: Bearer <token> header",
 * or "the session has ended" with no cause), and after signing in the pin is still there, still in flight.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { launchBrowser, openApp, signIn } from '../fixtures/browser.js'
import { fileCidOf } from '../fixtures/origin.js'
import { startService, type TestService } from '../fixtures/service.js'

const services: TestService[] = []
afterAll(async () => { for (const svc of services) await svc.destroy() })

describe('a restart of the service under an open page', () => {
  it('asks to sign in again, saying the restart may be why, and shows the pin still in flight', async () => {
    const first = await startService({ users: ['alice'] })
    services.push(first)
    const alice = first.tokens.alice as string
    // A CID no peer has: it stays in flight (queued or pinning) across the restart.
    const cid = (await fileCidOf(randomBytes(64))).toString()
    const made = await first.call('POST', '/pins', 'alice', { cid, name: 'waiting' })
    const { requestid } = await made.json() as { requestid: string }
    const browser = await launchBrowser()
    try {
      const { page } = await openApp(browser, first.url)
      await signIn(page, alice)
      await page.getByRole('link', { name: 'waiting' }).click()
      await page.locator('.detail h1').filter({ hasText: 'waiting' }).waitFor()
      await first.stop()
      const port = new URL(first.url).port
      const again = await startService({ dataDir: first.dataDir, env: { PINERY_HTTP_PORT: port } })
      services.push(again)
      const note = page.locator('.msg.info')
      await note.waitFor({ timeout: 30_000 })
      expect(await note.textContent()).toMatch(/^The session has ended \(Pinery was restarted, .*\); sign in again\.$/)
      await signIn(page, alice)
      await page.locator('.detail h1').filter({ hasText: 'waiting' }).waitFor()
      expect(await page.locator('.detail').getAttribute('data-status')).toMatch(/^(queued|pinning)$/)
      expect(page.url()).toContain(requestid)
    } finally {
      await browser.close()
    }
  })
})
