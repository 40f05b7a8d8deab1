/**
 * The web app's Webhooks page in real Chromium against a real Pinery and a
 * real receiver process on 127.0.0.1: register one and see its secret once,
 * a test event arriving signed with that secret, its delivery listed, a URL
 * the outbound policy refuses explained, delete; a disabled webhook's reason
 * and re-enabling it; node-wide webhooks for admins; a read-only token told why.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EVENT_TYPES } from '../../src/events/index.js'
import { launchBrowser, openApp, PHONE, signIn } from '../fixtures/browser.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'
import { startService, type TestService } from '../fixtures/service.js'
import { verify } from '../fixtures/webhook-checks.js'
import type { Browser, Page } from 'playwright-core'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, window: any

let svc: TestService
let receiver: Receiver
let browser: Browser
let dir: string
const allErrors: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinery-web-hooks-'))
  receiver = await startReceiver(join(dir, 'received.log'))
  // A retry window other than the default 24 h: the page says the operator's.
  svc = await startService({
    users: ['alice'], env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1', PINERY_WEBHOOK_DISABLE_AFTER_MS: '5400000' }
  })
  browser = await launchBrowser()
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await svc?.destroy()
  await receiver?.kill()
  await rm(dir, { recursive: true, force: true })
  // No CSP violation, no script error on any page of any test (the refused URL's 400 is expected).
  expect(allErrors.filter(e => !/status of 40[0134]/.test(e))).toEqual([])
})

async function app (token: string, viewport?: { width: number, height: number }): Promise<Page> {
  const opened = await openApp(browser, svc.url, viewport)
  opened.page.on('pageerror', err => { allErrors.push(err.message) })
  opened.page.on('console', msg => { if (msg.type() === 'error') allErrors.push(msg.text()) })
  await signIn(opened.page, token)
  return opened.page
}

interface Listed { id: string, enabled: boolean, all: boolean, description: string }
const listed = async (user: string): Promise<Listed[]> =>
  (await (await svc.call('GET', '/webhooks', user)).json() as { results: any[] }).results

describe('the webhooks page', () => {
  it('adds one, shows its secret once, tests it, lists the delivery, explains a refused URL, deletes it', async () => {
    const page = await app(svc.tokens.alice as string)
    await page.getByRole('link', { name: 'Webhooks' }).click()
    await page.getByText('No webhooks yet.').waitFor()
    expect(await page.locator('main p.muted').first().textContent()).toMatch(/retries for up to 90 minutes; /)
    expect(await (await svc.call('GET', '/webhooks', 'alice')).json()).toMatchObject({ retry_for_seconds: 5400 })
    // A checkbox for each event type the API takes (the page keeps its own list).
    expect(await page.locator('fieldset.events input').evaluateAll(els => els.map(e => e.value))).toEqual(EVENT_TYPES)
    await page.getByLabel('URL').fill(receiver.url)
    await page.getByLabel('pin.queued').check()
    expect(await page.getByLabel('pin.pinned').isChecked()).toBe(true)
    await page.getByLabel('Description (optional)').fill('ci deploy')
    expect(await page.getByLabel(/Node-wide/).count()).toBe(0) // admins only
    await page.getByLabel('Description (optional)').press('Enter') // the keyboard submits the form
    const shown = page.getByRole('region', { name: 'New webhook secret' })
    expect(await shown.textContent()).toMatch(/you will not see it again/)
    const secret = (await shown.locator('[data-secret]').textContent()) ?? ''
    expect(secret).toMatch(/^whsec_/)
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Signing secret') // focus moved there
    await shown.getByRole('button', { name: 'Copy secret' }).click()
    await shown.getByText('Copied').waitFor()
    const card = page.locator('[data-webhook]', { hasText: receiver.url })
    expect(await card.getAttribute('data-state')).toBe('active')
    await expect.poll(async () => await card.textContent())
      .toMatch(/ci deploy.*active.*pin\.queued.*pin\.pinned.*pin\.failed.*none yet/)

    // A test event: the page says so, the receiver got it signed with the secret the page showed.
    await card.getByRole('button', { name: 'Send a test event to ci deploy' }).click()
    const result = card.locator('[data-test]')
    await result.waitFor()
    expect(await result.getAttribute('data-test')).toBe('ok')
    const said = await result.textContent() ?? ''
    const eventId = /Test event (test-[0-9a-f-]+) delivered: HTTP 200 in \d+ ms/.exec(said)?.[1]
    expect(eventId).toBeDefined()
    const got = (await receiver.received()).filter(r => r.headers['pinery-event-id'] === eventId)
    expect(got).toHaveLength(1)
    expect(verify(secret, got[0]?.headers['pinery-signature'] as string, got[0]?.body as string)).toBe(true)
    expect(JSON.parse(got[0]?.body as string)).toMatchObject({ id: eventId, type: 'webhook.test', user: 'alice' })
    // …and lists the attempt.
    await expect.poll(async () => await card.locator('dd.last').textContent()).toMatch(/delivered.*HTTP 200 in \d+ ms/)
    await card.getByText('Last deliveries').click()
    const row = card.locator(`tr[data-event="${eventId as string}"]`)
    await row.waitFor()
    expect(await row.textContent()).toMatch(/delivered200\d+ ms—/)

    // Shown once: a fresh look lists the webhook without its secret.
    await page.reload()
    await card.waitFor()
    expect(await page.locator('[data-secret]').count()).toBe(0)
    expect(await page.content()).not.toContain(secret)

    // A URL the outbound policy refuses: the API's reason, as an alert in the form.
    await page.getByLabel('URL').fill('http://169.254.169.254/latest/meta-data')
    await page.getByRole('button', { name: 'Add webhook' }).click()
    const alert = page.locator('form.new-webhook').getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toMatch(/outbound policy refuses.*link-local.*PINERY_WEBHOOK_ALLOW/)
    expect(await listed('alice')).toHaveLength(1)

    // Nothing checked: said before asking.
    for (const e of ['pin.pinned', 'pin.failed']) await page.getByLabel(e).uncheck()
    await page.getByRole('button', { name: 'Add webhook' }).click()
    await alert.filter({ hasText: 'Choose at least one event' }).waitFor()

    page.once('dialog', dialog => { void dialog.accept() })
    await card.getByRole('button', { name: 'Delete ci deploy' }).click()
    await card.waitFor({ state: 'detached' })
    await page.getByText('No webhooks yet.').waitFor()
    expect(await listed('alice')).toEqual([])
    await page.context().close()
  })

  it('shows why a webhook was disabled and re-enables it, on a phone', async () => {
    // Registered with a token that is then revoked: disabled, with the reason.
    const token = await (await svc.call('POST', '/tokens', 'alice', { label: 'lost laptop' })).json() as
      { id: string, secret: string }
    const made = await svc.call('POST', '/webhooks', token.secret,
      { url: `${receiver.url}/laptop`, events: ['pin.pinned'], description: 'from the laptop' })
    expect(made.status).toBe(201)
    expect((await svc.call('DELETE', `/tokens/${token.id}`, 'alice')).status).toBe(204)
    const page = await app(svc.tokens.alice as string, PHONE)
    await page.evaluate(() => { window.location.hash = '#/webhooks' })
    const card = page.locator('[data-webhook][data-state=disabled]', { hasText: 'from the laptop' })
    await card.waitFor()
    expect(await card.locator('.state').textContent()).toMatch(/disabled.*the token that registered it was revoked/)
    await card.getByText('Last deliveries').click()
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - document.documentElement.clientWidth)
    expect(overflow).toBe(0)
    await card.getByRole('button', { name: 'Re-enable from the laptop' }).click()
    await page.locator('[data-webhook][data-state=active]', { hasText: 'from the laptop' }).waitFor()
    expect((await listed('alice')).find(w => w.description === 'from the laptop')?.enabled).toBe(true)
    // A receiver answering 500: the test's failure is an alert, and the attempt is listed with it.
    await receiver.setMode('fail')
    try {
      const active = page.locator('[data-webhook]', { hasText: 'from the laptop' })
      await active.getByRole('button', { name: 'Send a test event to from the laptop' }).click()
      const failed = active.getByRole('alert').and(active.locator('[data-test=failed]'))
      expect(await failed.textContent()).toMatch(/Test event test-[0-9a-f-]+ was not delivered: answered 500/)
      await expect.poll(async () => await active.locator('dd.last').textContent()).toMatch(/failed.*answered 500/)
    } finally { await receiver.setMode('ok') }
    await page.context().close()
  })

  it('lets an admin register a node-wide webhook, marked as such', async () => {
    const page = await app(svc.tokens.admin as string)
    await page.getByRole('link', { name: 'Webhooks' }).click()
    await page.locator('[data-ready=webhooks]').waitFor()
    await page.getByLabel('URL').fill(`${receiver.url}/all`)
    await page.getByLabel('Description (optional)').fill('audit trail')
    await page.getByLabel(/Node-wide/).check()
    await page.getByRole('button', { name: 'Add webhook' }).click()
    const card = page.locator('[data-webhook]', { hasText: 'audit trail' })
    await card.waitFor()
    expect(await card.locator('.badge.nodewide').textContent()).toMatch(/node-wide: every user's events/)
    expect((await listed('admin')).find(w => w.description === 'audit trail')?.all).toBe(true)
    await page.context().close()
  })

  it('tells a token without pins:write why it cannot manage webhooks', async () => {
    const made = await svc.call('POST', '/tokens', 'alice', { scope: 'pins:read' })
    const { secret } = await made.json() as { secret: string }
    const page = await app(secret)
    await page.locator('[data-ready=pins]').waitFor()
    expect(await page.getByRole('link', { name: 'Webhooks' }).isVisible()).toBe(false)
    await page.evaluate(() => { window.location.hash = '#/webhooks' })
    expect(await page.getByRole('status').filter({ hasText: 'pins:write' }).textContent())
      .toMatch(/Webhooks need a token with the pins:write scope; you are signed in with pins:read/)
    await page.context().close()
  })
})
