/**
 * The page in real Chromium as text and layout: a pin named with markup shown as text, every page fitting a phone
 * without sideways scrolling, and a pin opened with the keyboard alone.
 */
import { describe, expect, it } from 'vitest'
import { uploadThroughPage, useSignedInApp } from '../fixtures/browser.js'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, window: any

const web = useSignedInApp({ users: ['alice'] })
const { app } = web

describe('pins', () => {
  it('shows a pin named with markup as text', async () => {
    const name = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    const res = await web.svc.request('/pins', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa', name, meta: { '<i>k</i>': '<script>window.pwned=2</script>' } })
    })
    const { requestid } = await res.json() as { requestid: string }
    const page = await app(web.svc.tokens.alice as string)
    await page.locator('[data-ready=pins]').waitFor()
    const link = page.locator('td.name a', { hasText: '<b>bold</b>' })
    expect(await link.textContent()).toBe(name)
    expect(await page.locator('td.name img, td.name b').count()).toBe(0)
    await link.click()
    await page.locator('.detail h1').filter({ hasText: '<b>bold</b>' }).waitFor()
    expect(await page.locator('.detail').textContent()).toContain('<script>window.pwned=2</script>')
    expect(await page.locator('.detail b, .detail img, .detail i, .detail script').count()).toBe(0)
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined()
    expect(page.url()).toContain(requestid)
    await page.context().close()
  })
})

describe('layout and keyboard', () => {
  it('fits a phone (no sideways scrolling) and opens a pin with the keyboard alone', async () => {
    await web.svc.request('/pins', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa', name: 'keyboard-pin' })
    })
    const page = await app(web.svc.tokens.admin as string, { width: 390, height: 844 })
    const pages: Array<[string, string]> = [
      ['#/pins', '[data-ready=pins] tbody tr'], ['#/add', '.drop'], ['#/devices', 'tr[data-tokenid]'],
      ['#/usage', '.bars'], ['#/admin', '[data-user=alice]']
    ]
    for (const [hash, ready] of pages) {
      await page.evaluate((h: string) => { window.location.hash = h }, hash)
      await page.locator(ready).first().waitFor()
      const overflow = await page.evaluate(() =>
        document.documentElement.scrollWidth - document.documentElement.clientWidth)
      expect(overflow, hash).toBe(0)
    }
    await page.evaluate(() => { window.location.hash = '#/pins' })
    await page.locator('[data-ready=pins] tbody tr').first().waitFor()
    let focused = ''
    for (let i = 0; i < 40 && focused !== 'keyboard-pin'; i++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate(() => document.activeElement?.textContent ?? '')
    }
    expect(focused).toBe('keyboard-pin')
    await page.keyboard.press('Enter')
    await page.locator('.detail h1').filter({ hasText: 'keyboard-pin' }).waitFor()
    await page.context().close()
  })

  it('shows a phone\'s first screen the pins, not the filters, which open on a tap and stay open while on',
    async () => {
      // Old page: at 375×740 the open filter form took the first screen; the first pin's card ended at ~860 px.
      for (const name of ['phone-first', 'phone-second']) {
        await web.svc.call('POST', '/pins', 'alice', { cid: 'bafkqaaa', name })
      }
      const page = await app(web.svc.tokens.alice as string, { width: 375, height: 740 })
      await page.locator('[data-ready=pins] tbody tr').first().waitFor()
      const card = await page.locator('[data-ready=pins] tbody tr').first().boundingBox()
      expect((card?.y ?? 0) + (card?.height ?? 0)).toBeLessThanOrEqual(740)
      expect(await page.getByLabel('Name', { exact: true }).isVisible()).toBe(false)
      await page.getByText('Filters', { exact: true }).click()
      await page.getByLabel('Name', { exact: true }).fill('phone-second')
      await page.getByRole('button', { name: 'Search' }).click()
      await expect.poll(async () => await page.locator('td.name').allTextContents()).toEqual(['phone-second'])
      expect(await page.locator('.filters-box > summary').textContent()).toBe('Filters: name')
      expect(await page.getByLabel('Name', { exact: true }).isVisible()).toBe(true)
      await page.context().close()
      // A desktop opens with them open.
      const desk = await app(web.svc.tokens.alice as string)
      await desk.locator('[data-ready=pins] tbody tr').first().waitFor()
      expect(await desk.getByLabel('Name', { exact: true }).isVisible()).toBe(true)
      await desk.context().close()
    })

  it('offers a pinned file\'s Open and Download on a phone\'s first screen, above the request\'s fields', async () => {
    // Old page: below Request ID, Created, CID, Origins, Meta, size and Delegates, ~1,150 px down at 375×740.
    const page = await app(web.svc.tokens.alice as string, { width: 375, height: 740 })
    await uploadThroughPage(page, web.files, 'minutes.txt', 'minutes of the meeting\n')
    await page.locator('.detail[data-status=pinned]').waitFor()
    for (const name of ['Open', 'Download']) {
      const link = page.getByRole('link', { name, exact: true })
      await link.waitFor()
      const box = await link.boundingBox()
      expect((box?.y ?? 0) + (box?.height ?? 0), name).toBeLessThanOrEqual(740)
    }
    await page.context().close()
  })
})
