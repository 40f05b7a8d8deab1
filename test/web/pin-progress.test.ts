/**
 * Pins in real Chromium against a real Pinery and a real origin peer: live progress from queued to pinned
 * without a reload, the list's filters, and a failed pin's reason and Retry.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileCidOf, startOrigin, type Origin } from '../fixtures/origin.js'
import { openAddPage, useSignedInApp } from '../fixtures/browser.js'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const window: any

// One fetch at a time, so a second pin waits in the queue where the page can see it.
const web = useSignedInApp({ users: ['alice'], env: { PINERY_PIN_CONCURRENCY: '1' } })
const { app } = web
let origin: Origin
beforeAll(async () => { origin = await startOrigin() })
afterAll(async () => { await origin?.stop() })

describe('pins', () => {
  it('shows a pin from an origin go from queued to pinned without a reload', async () => {
    const first = randomBytes(600 * 1024)
    const second = randomBytes(700 * 1024)
    const [firstCid, secondCid] = [await fileCidOf(first), await fileCidOf(second)]
    const page = await app(web.svc.tokens.alice as string)
    // Pinned through the page's form; the origin gets the bytes only later, so the first waits
    // at the worker and the second in the queue.
    for (const [cid, name] of [[firstCid, 'first-of-two'], [secondCid, 'second-of-two']] as const) {
      await openAddPage(page)
      await page.getByLabel('CID', { exact: true }).fill(cid.toString())
      await page.getByLabel('Name (optional)').last().fill(name)
      await page.getByLabel('Origins (optional)').fill(origin.addrs.join('\n'))
      await page.getByLabel('Meta (optional)').last().fill('app=web-test')
      await page.getByRole('button', { name: 'Pin', exact: true }).click()
      await page.locator('.detail h1').filter({ hasText: name }).waitFor()
    }
    await page.getByRole('link', { name: 'Pins', exact: true }).click()
    const row = page.locator('tr', { hasText: 'second-of-two' })
    await row.locator('[data-status=queued]').waitFor()
    await expect.poll(async () => await row.textContent()).toMatch(/next in the queue \(1 waiting\)/)
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 1 })
    await origin.addFile(first)
    await origin.addFile(second)
    await row.locator('[data-status=pinned]').waitFor({ timeout: 30_000 })
    expect(await row.textContent()).toMatch(/700 KiB/)
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1) // no reload
    // Filters: status and meta narrow the list.
    await page.getByLabel('Name', { exact: true }).fill('OF-TWO')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(async () => await page.locator('tbody tr').count()).toBe(2)
    await page.getByLabel('pinned').uncheck()
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByText('No pins match these filters.').waitFor()
    await page.close()
  })

  it('shows why a pin failed, and retries it', async () => {
    const json = { 'content-type': 'application/json' }
    const patch = async (quota: unknown): Promise<void> => {
      const body = JSON.stringify({ quota })
      const res = await web.svc.request('/users/alice', { method: 'PATCH', headers: json, body })
      expect(res.status).toBe(200)
    }
    const used = (await (await web.svc.request('/usage', { user: 'alice' })).json() as { bytes: number }).bytes
    await patch({ bytes: used + 100 * 1024 })
    try {
      const cid = await origin.addFile(randomBytes(300 * 1024))
      const res = await web.svc.request('/pins', {
        method: 'POST',
        user: 'alice',
        headers: json,
        body: JSON.stringify({ cid: cid.toString(), name: 'too-big', origins: origin.addrs })
      })
      expect(res.status).toBe(202)
      const { requestid } = await res.json() as { requestid: string }
      const page = await app(web.svc.tokens.alice as string)
      await page.evaluate((id: string) => { window.location.hash = `#/pins/${id}` }, requestid)
      await page.locator('.detail[data-status=failed]').waitFor({ timeout: 30_000 })
      expect(await page.locator('.detail .reason').textContent()).toMatch(/storage quota exceeded/)
      await patch(null)
      await page.getByRole('button', { name: 'Retry' }).click()
      await page.locator('.detail[data-status=pinned]').waitFor({ timeout: 30_000 })
      expect(page.url()).not.toContain(requestid) // a replace answers with a new request
      expect(await page.locator('.detail').textContent()).toContain(cid.toString())
      await page.context().close()
    } finally {
      await patch(null)
    }
  })
})
