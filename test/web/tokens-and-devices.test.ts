/**
 * Tokens in real Chromium: a pasted token traded for a cookie the page cannot read (keyboard alone), and a
 * device token shown once, signed in with on a phone and revoked (ending its session).
 */
import { describe, expect, it } from 'vitest'
import { useSignedInApp } from '../fixtures/browser.js'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, localStorage: Storage, sessionStorage: Storage

const web = useSignedInApp({ users: ['alice'] })
const { app } = web

describe('signing in', () => {
  it('trades a pasted token for a cookie the page cannot read, with the keyboard alone', async () => {
    const { page, context } = await web.open()
    await page.keyboard.press('Tab') // skip link
    await page.getByLabel('Access token').focus()
    await page.keyboard.type('wrong-token')
    await page.keyboard.press('Enter')
    await expect.poll(async () => await page.getByRole('alert').textContent()).toMatch(/refused/)
    await page.getByLabel('Access token').fill('')
    await page.keyboard.type(web.svc.tokens.alice as string)
    await page.keyboard.press('Enter')
    await page.locator('#who-name').filter({ hasText: 'alice · pins:write token' }).waitFor()
    await page.locator('[data-ready=pins]').waitFor()
    // The token is nowhere page script or a URL can reach.
    expect(await page.evaluate(() => document.cookie)).toBe('')
    // Storage holds only the session's key (no credential alone: the HttpOnly cookie is one).
    const stored = await page.evaluate(() =>
      JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
    expect(stored).toMatch(/^\{"pinery\.sessionKey":"[A-Za-z0-9_-]{43}"\}\{\}$/)
    expect(stored).not.toContain(web.svc.tokens.alice)
    expect(page.url()).not.toContain(web.svc.tokens.alice)
    const cookie = (await context.cookies()).find(c => c.name.startsWith('pinery_session_'))
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
    // Administration is for admin tokens only.
    expect(await page.getByRole('link', { name: 'Administration' }).isVisible()).toBe(false)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Access token').waitFor()
    expect(await context.cookies()).toEqual([])
    await context.close()
  })
})

describe('devices', () => {
  it('shows a new token once, and revoking it ends the session signed in with it', async () => {
    const page = await app(web.svc.tokens.alice as string)
    await page.getByRole('link', { name: 'Devices' }).click()
    await page.getByLabel('Label').fill('phone')
    await page.getByLabel('Scope').selectOption('pins:read')
    await page.getByRole('button', { name: 'Create token' }).click()
    const secret = (await page.locator('[data-secret]').textContent()) ?? ''
    expect(secret).toMatch(/^pinery_/)
    expect(await page.locator('pre.cmd').textContent())
      .toBe(`ipfs pin remote service add pinery ${web.svc.url} ${secret}`)
    // The phone signs in with it.
    const phone = await app(secret, { width: 390, height: 844 })
    await phone.locator('[data-ready=pins]').waitFor()
    expect(await phone.locator('#who-name').textContent()).toBe('alice · pins:read token')
    expect(await phone.getByRole('link', { name: 'Add', exact: true }).first().isVisible()).toBe(true)
    // Shown once: a fresh look at the devices page lists it without its secret.
    await page.reload()
    await page.locator('tr[data-tokenid]', { hasText: 'phone' }).waitFor()
    expect(await page.content()).not.toContain(secret)
    page.once('dialog', dialog => { void dialog.accept() })
    await page.getByRole('button', { name: 'Revoke phone' }).click()
    await page.locator('tr[data-tokenid]', { hasText: 'phone' }).waitFor({ state: 'detached' })
    // The phone's next request finds its session over.
    await phone.getByRole('link', { name: 'Usage' }).click()
    await phone.getByLabel('Access token').waitFor()
    expect(await phone.locator('.msg').textContent()).toMatch(/session ended/)
    await phone.context().close()
    await page.context().close()
  })
})
