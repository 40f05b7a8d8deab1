/**
 * Pins named before a new pin's name had to be free of control characters and bidirectional overrides: the
 * records are written as the old code could, by the store's own API into the data dir the service then opens.
 * Their page's Retry and Restart send the pin back as it is, stored name included; that keeps the name, so it
 * is not refused (old code: 400 "name: must not contain control characters …"), while a new name still is.
 * The page shows such a name with those characters written out, and offers to take them out.
 */
import { mkdtempSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { beforeAll, describe, expect, it } from 'vitest'
import { signIn, useWebApp } from '../fixtures/browser.js'
import { fileCidOf } from '../fixtures/origin.js'
import { openPinCore } from '../fixtures/pin-core.js'

/** A terminal escape (the old rule let any through) and a right-to-left override. */
const FAILED_NAME = 'report\u001b[31m-red'
const QUEUED_NAME = 'invoice-\u202egnp.exe'
/** As the page shows them (the override would make the second read "invoice-exe.png"). */
const FAILED_SHOWN = 'report\\u{1b}[31m-red'
const QUEUED_SHOWN = 'invoice-\\u{202e}gnp.exe'
const dataDir = mkdtempSync(join(tmpdir(), 'pinery-legacy-names-'))
const ids = { failed: '', queued: '' }

beforeAll(async () => {
  const core = await openPinCore({ dir: dataDir })
  try {
    // Nothing to fetch: a retry pins it at once.
    const empty = CID.parse('bafkqaaa')
    const failed = core.record('alice', empty,
      { status: 'failed', failure: 'no progress for 120000 ms', pin: { cid: empty.toString(), name: FAILED_NAME } })
    // No peer has it: it stays in flight.
    const missing = await fileCidOf(randomBytes(64))
    const queued = core.record('alice', missing, { pin: { cid: missing.toString(), name: QUEUED_NAME } })
    await core.lifecycle.create(failed)
    await core.lifecycle.create(queued)
    ids.failed = failed.requestid
    ids.queued = queued.requestid
  } finally {
    await core.close()
  }
})
const web = useWebApp({ dataDir, users: ['alice'] })

interface Status { requestid: string, status: string, pin: { name?: string }, reason?: string }

describe('a pin named before the name rule', () => {
  it('keeps its name through the API, and a new name is still refused', async () => {
    const stored = await (await web.svc.call('GET', `/pins/${ids.queued}`, 'alice')).json() as Status & { pin: object }
    expect(stored.pin.name).toBe(QUEUED_NAME)
    const renamed = await web.svc.call('POST', `/pins/${ids.queued}`, 'alice', { ...stored.pin, name: 'x\u0007y' })
    expect(renamed.status).toBe(400)
    expect(await renamed.text()).toMatch(/name: must not contain control characters/)
    const fresh = await web.svc.call('POST', '/pins', 'alice', { cid: 'bafkqaaa', name: QUEUED_NAME })
    expect(fresh.status).toBe(400)
    // The same pin sent back, as the page's Restart does.
    const again = await web.svc.call('POST', `/pins/${ids.queued}`, 'alice', stored.pin)
    expect(again.status).toBe(202)
    const next = await again.json() as Status
    expect(next.pin.name).toBe(QUEUED_NAME)
    ids.queued = next.requestid
  })

  it('is retried from its page, and restarted from its page while queued', async () => {
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await page.goto('/#/pins?status=queued,pinning,failed')
      await page.getByRole('link', { name: FAILED_SHOWN, exact: true }).click()
      await page.locator('.detail[data-status=failed]').waitFor()
      expect(await page.locator('.detail h1').textContent()).toBe(FAILED_SHOWN)
      await page.getByText(/This name holds control characters/).waitFor()
      await page.getByRole('button', { name: 'Retry' }).click()
      await page.locator('.detail[data-status=pinned]').waitFor()
      expect(page.url()).not.toContain(ids.failed)
      expect(await page.locator('.detail h1').textContent()).toBe(FAILED_SHOWN)

      await page.goto(`/#/pins/${ids.queued}`)
      await page.locator('.detail[data-status=queued], .detail[data-status=pinning]').waitFor()
      await page.getByRole('button', { name: 'Restart' }).click()
      await page.waitForURL(url => !url.hash.includes(ids.queued))
      await page.locator('.detail[data-status=queued], .detail[data-status=pinning]').waitFor()
      expect(await page.locator('.detail h1').textContent()).toBe(QUEUED_SHOWN)
      expect(await page.locator('.msg.error').count()).toBe(0)
      ids.queued = decodeURIComponent(new URL(page.url()).hash.split('/').pop() as string)
      const list = await web.svc.call('GET', '/pins?status=queued,pinning,pinned,failed', 'alice')
      const names = (await list.json() as { results: Status[] }).results.map(r => r.pin.name).sort()
      expect(names).toEqual([QUEUED_NAME, FAILED_NAME].sort())
    } finally {
      await context.close()
    }
  })

  it('loses those characters when the person asks the page to take them out', async () => {
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await page.goto(`/#/pins/${ids.queued}`)
      await page.locator('.detail h1').filter({ hasText: QUEUED_SHOWN }).waitFor()
      // The kubo command makes a new pin: with the name a new pin may have.
      expect(await page.locator('pre.cmd').textContent()).toContain('--name=invoice-gnp.exe')
      await page.getByRole('button', { name: 'Remove them from the name' }).click()
      await page.locator('.detail h1').filter({ hasText: 'invoice-gnp.exe' }).waitFor()
      expect(await page.getByText(/This name holds control characters/).isVisible()).toBe(false)
      const found = await web.svc.call('GET', '/pins?status=queued,pinning&name=invoice-gnp.exe', 'alice')
      expect((await found.json() as { count: number }).count).toBe(1)
    } finally {
      await context.close()
    }
  })
})
