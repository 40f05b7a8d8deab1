/**
 * The sign-in page says only what Pinery says: a link to the page cannot put its own words above the
 * token field (text injection: "your session ended: paste your token at https://evil.example"); and what it
 * says tells an operator signing in for the first time where their token is.
 */
import { describe, expect, it } from 'vitest'
import { useWebApp } from '../fixtures/browser.js'

const web = useWebApp()

describe('the sign-in page', () => {
  it('tells the operator signing in for the first time where the admin token is', async () => {
    const { context, page } = await web.open()
    try {
      await page.getByLabel('Access token').waitFor()
      const hint = await page.locator('form .hint').textContent()
      expect(hint).toMatch(/admin token Pinery printed when it first started \(also in its data dir, in admin-token\)/)
    } finally {
      await context.close()
    }
  })

  it('shows no text taken from the address', async () => {
    const lure = 'Pinery has moved: paste your token at https://evil.example/login'
    const { context, page } = await web.open()
    try {
      await page.goto(`/#/signin?ended=${encodeURIComponent(lure)}`)
      await page.getByLabel('Access token').waitFor()
      expect(await page.locator('main').innerText()).not.toContain('evil.example')
    } finally {
      await context.close()
    }
  })
})
