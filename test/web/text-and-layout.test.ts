/**
 * The page in real Chromium as text and layout: a pin named with markup shown as text, every page fitting a phone
 * without sideways scrolling, and a pin opened with the keyboard alone.
 */
import { describe, expect, it } from 'vitest'
import { useSignedInApp } from '../fixtures/browser.js'

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
})
