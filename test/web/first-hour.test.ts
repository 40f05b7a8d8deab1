/**
 * What a new team member trips on in their first hour with the web app, in real Chromium against a real
 * Pinery: a revoked token's secret left on screen as if usable, buttons a screen reader cannot tell apart,
 * the keyboard focus left behind on the menu (or on nothing, after signing in) when a page opens, and a
 * pins:add token (a CI job's, pasted to look around) led to pages that answer it only with a 403.
 */
import { describe, expect, it } from 'vitest'
import { PHONE, signIn, useWebApp } from '../fixtures/browser.js'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any

const web = useWebApp({ users: ['alice'] })

const focusedId = async (page: import('playwright-core').Page): Promise<string> =>
  await page.evaluate(() => document.activeElement?.id ?? '')

describe('devices', () => {
  it('brings a new secret into view, and takes it away when that token is revoked', async () => {
    const { context, page } = await web.open(PHONE)
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await page.getByRole('link', { name: 'Devices' }).click()
      // The signed-in token's row reads as two words, label then badge.
      const own = page.locator('tr[data-tokenid] td[data-label=Label]').first()
      await own.waitFor()
      expect(await own.innerText()).toMatch(/ this session$/)
      await page.getByLabel('Label').fill('old-laptop')
      await page.getByRole('button', { name: 'Create token' }).click()
      const card = page.getByRole('region', { name: 'New token' })
      await card.waitFor()
      // Below the form, off a phone's screen: focused, so it scrolls into view and is read out.
      expect(await card.evaluate(el => el === document.activeElement)).toBe(true)
      expect(await card.isVisible()).toBe(true)
      page.once('dialog', dialog => { void dialog.accept() })
      await page.getByRole('button', { name: 'Revoke old-laptop' }).click()
      await page.locator('tr[data-tokenid]', { hasText: 'old-laptop' }).waitFor({ state: 'detached' })
      // Its secret and kubo line no longer work: they are not left on the page as if they did.
      expect(await page.locator('[data-secret]').count()).toBe(0)
      expect(await page.locator('pre.cmd').count()).toBe(0)
    } finally {
      await context.close()
    }
  })
})

describe('a token that may only add pins', () => {
  it('is not sent to pages it cannot read, and is told why when it gets there', async () => {
    const made = await web.svc.call('POST', '/users/alice/tokens', 'admin', { label: 'ci', scope: 'pins:add' })
    const { secret } = await made.json() as { secret: string }
    const { context, page } = await web.open()
    try {
      await signIn(page, secret)
      await page.getByLabel('CID', { exact: true }).fill('bafkqaaa')
      await page.getByRole('button', { name: 'Pin', exact: true }).click()
      await page.locator('.detail h1').waitFor()
      // Its kubo command works with this token: kubo's wait for pinned would need pins:read.
      expect(await page.locator('pre.cmd').textContent()).toMatch(/^ipfs pin remote add --service=pinery --background /)
      // The way back goes to Add, not to a list this token may not read.
      expect(await page.getByRole('link', { name: '← All pins' }).count()).toBe(0)
      await page.getByRole('link', { name: '← Add another' }).click()
      await page.getByLabel('CID', { exact: true }).waitFor()
      for (const [hash, what] of [['#/pins', 'Listing pins'], ['#/usage', 'Usage']] as const) {
        await page.evaluate((h: string) => { document.defaultView.location.hash = h }, hash)
        const note = page.getByRole('status').filter({ hasText: `${what} needs a token with the pins:read scope` })
        await note.waitFor()
        expect(await note.textContent()).toContain('signed in with pins:add')
        expect(await page.getByRole('search').count()).toBe(0)
        expect(await page.getByRole('link', { name: 'Add a pin or upload files' }).count()).toBe(1)
      }
      // Administration, too, is a page with its heading that says why it is empty.
      await page.evaluate(() => { document.defaultView.location.hash = '#/admin' })
      await page.getByText('Administration needs a token with the admin scope.').waitFor()
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Administration')
    } finally {
      await context.close()
    }
  })
})

describe('accessibility', () => {
  it('names each copy button for what it copies', async () => {
    const res = await web.svc.call('POST', '/pins', 'alice', { cid: 'bafkqaaa', name: 'empty-file' })
    expect(res.status).toBe(202)
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await page.getByRole('button', { name: 'Copy CID of empty-file' }).waitFor()
      await page.getByRole('link', { name: 'empty-file' }).click()
      await page.locator('.detail h1').filter({ hasText: 'empty-file' }).waitFor()
      for (const name of ['Copy request ID', 'Copy CID', 'Copy all delegates', 'Copy kubo command']) {
        expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(1)
      }
      const names = await page.locator('.detail button.copy')
        .evaluateAll(bs => bs.map(b => b.getAttribute('aria-label')))
      expect(new Set(names).size).toBe(names.length)
    } finally {
      await context.close()
    }
  })

  it('moves the focus to the page that opens, after signing in and from the menu', async () => {
    const { context, page } = await web.open()
    try {
      await page.getByLabel('Access token').fill(web.svc.tokens.alice as string)
      await page.keyboard.press('Enter')
      await page.locator('[data-ready=pins]').waitFor()
      expect(await focusedId(page)).toBe('main')
      await page.getByRole('link', { name: 'Devices' }).focus()
      await page.keyboard.press('Enter')
      await page.getByRole('heading', { name: 'Devices of alice' }).waitFor()
      expect(await focusedId(page)).toBe('main')
      // The next Tab lands in the page, not on the next menu link.
      await page.keyboard.press('Tab')
      expect(await page.evaluate(() => document.getElementById('main').contains(document.activeElement))).toBe(true)
      // A search re-draws the page under the field typed in: the focus goes to the page, not to nothing.
      await page.getByRole('link', { name: 'Pins' }).click()
      await page.locator('[data-ready=pins]').waitFor()
      await page.getByLabel('Name', { exact: true }).fill('empty')
      await page.keyboard.press('Enter')
      await page.waitForURL(/name=empty/)
      await page.locator('[data-ready=pins]').waitFor()
      expect(await focusedId(page)).toBe('main')
    } finally {
      await context.close()
    }
  })
})
