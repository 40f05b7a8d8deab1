/**
 * The page's session key (kept in its origin's storage, sent as Pinery-Session-Key) in the ways people
 * use the page: storage cleared under a live session, two tabs, sign-out in one of them.
 */
import { describe, expect, it } from 'vitest'
import { signIn, useWebApp } from '../fixtures/browser.js'

declare const localStorage: Storage

const web = useWebApp({ users: ['alice'] })

describe('the session key of the web app', () => {
  it('asks to sign in again (no error page) when the storage was cleared, then works again', async () => {
    const { page, errors } = await web.open()
    await signIn(page, web.svc.tokens.alice as string)
    await page.evaluate(() => { localStorage.clear() })
    await page.reload()
    await page.getByLabel('Access token').waitFor()
    expect(await page.locator('.msg.error').count()).toBe(0)
    await signIn(page, web.svc.tokens.alice as string)
    await page.goto(`${web.svc.url}/#/add`)
    // What the page's own calls send (a string: vitest would rewrite an import in a function).
    const status = await page.evaluate(`import('/app/api.js').then(async ({ api }) =>
      (await api('/pins', { method: 'POST', body: { cid: 'bafkqaaa', name: 'after' } })).status)`)
    expect(status).toBe('pinned')
    expect(errors.filter(e => !e.includes('401'))).toEqual([])
  })

  it('signs a second tab out with the first, which then asks to sign in', async () => {
    const { context, page } = await web.open()
    await signIn(page, web.svc.tokens.alice as string)
    const other = await context.newPage()
    await other.goto(`${web.svc.url}/#/add`)
    await other.locator('#who').waitFor({ state: 'visible' })
    await page.locator('#sign-out').click()
    await page.getByLabel('Access token').waitFor()
    await other.reload()
    await other.getByLabel('Access token').waitFor()
    await signIn(other, web.svc.tokens.alice as string)
    await page.reload()
    await page.locator('#who').waitFor({ state: 'visible' })
  })
})
