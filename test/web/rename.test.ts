/**
 * Renaming a pin from its page, in real Chromium. The page had no way to: a person who mistyped a name could
 * only delete the pin and pin it again, or use Replace, whose hint says it keeps the name. Rename is a
 * replace with the same CID and the new name (the API's only way); the content stays pinned.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pinNames, signIn, uploadThroughPage, useWebApp } from '../fixtures/browser.js'

const web = useWebApp({ users: ['newbie'] })
let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'pinery-rename-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('a pin\'s page', () => {
  it('renames the pin, keeping its content pinned', async () => {
    const { context, page, errors } = await web.open()
    try {
      await signIn(page, web.svc.tokens.newbie as string)
      await uploadThroughPage(page, dir, 'holliday.txt', 'a typo in the name')
      await page.locator('.detail h1').filter({ hasText: 'holliday.txt' }).waitFor()
      const before = new URL(page.url()).hash
      const cid = await page.locator('.detail dd code.wrap').first().textContent()

      // Old page: there is no Name field in the Change card.
      const name = page.locator('form').filter({ has: page.getByRole('button', { name: 'Rename' }) }).getByLabel('Name')
      expect(await name.inputValue()).toBe('holliday.txt')
      await page.getByRole('button', { name: 'Rename' }).click()
      await page.getByText('That is its name already.').waitFor()

      await name.fill('holiday.txt')
      await page.getByRole('button', { name: 'Rename' }).click()
      await page.locator('.detail h1').filter({ hasText: /^holiday\.txt$/ }).waitFor()
      expect(new URL(page.url()).hash).not.toBe(before)
      expect(await page.locator('.detail').getAttribute('data-status')).toBe('pinned')
      await expect.poll(async () => await page.getByLabel('file preview').textContent()).toBe('a typo in the name')
      expect(await pinNames(web.svc, 'newbie')).toEqual(['holiday.txt'])
      const content = await web.svc.request(`/ipfs/${cid ?? ''}`, { user: 'newbie' })
      expect(await content.text()).toBe('a typo in the name')

      // Back on the list: one pin, by its new name.
      await page.getByRole('link', { name: '← All pins' }).click()
      await page.locator('td.name').first().waitFor()
      expect(await page.locator('td.name').allTextContents()).toEqual(['holiday.txt'])
      expect(errors.filter(e => !e.includes('401'))).toEqual([]) // the first GET /session, before signing in
    } finally {
      await context.close()
    }
  })
})
