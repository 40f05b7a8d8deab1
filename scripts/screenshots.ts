/**
 * Takes the README's screenshots of every page of the web app, at 1280×800
 * and at 390×844, against a real Pinery with real content: uploads, pins
 * from an origin peer (one pinned, one over quota and failed, one stuck
 * half-fetched, one queued behind it), webhooks to a real receiver (one
 * tested, one disabled with its reason). Also checks no page overflows a
 * phone's width.
 *
 *   node --import tsx scripts/screenshots.ts [--out docs/screenshots]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileCidOf, startOrigin, blocksIn } from '../test/fixtures/origin.js'
import { startService, waitFor } from '../test/fixtures/service.js'
import { startReceiver } from '../test/fixtures/receiver.js'
import { launchBrowser, openApp, signIn, DESKTOP, PHONE } from '../test/fixtures/browser.js'
import type { Page } from 'playwright-core'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, window: any, location: any

const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/screenshots' } } })
const out = values.out as string
await mkdir(out, { recursive: true })

const MiB = 1024 * 1024
const svc = await startService({
  users: ['alice', 'sam'],
  quotas: { alice: { bytes: 3 * MiB, pins: 50 } },
  env: { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000', PINERY_WEBHOOK_ALLOW: '127.0.0.1' }
})
const receiverDir = await mkdtemp(join(tmpdir(), 'pinery-shots-hooks-'))
const receiver = await startReceiver(join(receiverDir, 'received.log'))
const origin = await startOrigin()
const browser = await launchBrowser()
const bytesOf = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) % 251)

try {
  type Answer = { requestid: string } & Record<string, any>
  const api = async (path: string, body?: unknown, user = 'alice'): Promise<Answer> => {
    const res = await svc.request(path, {
      method: 'POST', user, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return await res.json() as Answer
  }
  const settled = async (id: string, status: string): Promise<void> => {
    await waitFor(async () => {
      const p = await (await svc.request(`/pins/${id}`, { user: 'alice' })).json() as { status: string }
      return p.status === status ? true : undefined
    }, 60_000, `${id} ${status}`)
  }
  // Uploads: a site folder and two files.
  const form = new FormData()
  form.append('name', 'team-site')
  form.append('meta', JSON.stringify({ app: 'site', release: '2026.11' }))
  const site: Record<string, string> = {
    'index.html': '<!doctype html><h1>Team site</h1>',
    'css/app.css': 'body { font-family: system-ui }',
    'docs/README.md': '# Team site\n\nBuilt and pinned by CI on every release.\n',
    'docs/changelog.txt': '2026.11: new landing page\n2026.10: dark mode\n'
  }
  for (const [path, text] of Object.entries(site)) form.append('file', new Blob([text]), path)
  const siteRes = await (await svc.request('/content', { method: 'POST', user: 'alice', body: form }))
    .json() as { requestid: string }
  const plainText = { method: 'POST', user: 'alice', headers: { 'content-type': 'text/plain' } }
  await svc.request('/content?name=meeting-notes.txt', {
    ...plainText, body: 'Agenda\n- quotas for the new interns\n- move backups to the NAS\n'
  })
  await svc.request('/content?name=<b>not bold</b>.txt', { ...plainText, body: 'names are text' })

  // From the origin: one pinned, one over quota (failed), one half-fetched, one queued.
  const dataset = bytesOf(512 * 1024, 1)
  const p1 = await api('/pins', {
    cid: (await origin.addFile(dataset)).toString(), name: 'dataset-2026.csv', origins: origin.addrs,
    meta: { app: 'research' }
  })
  await settled(p1.requestid, 'pinned')
  const huge = bytesOf(4 * MiB, 2)
  const p2 = await api('/pins', {
    cid: (await origin.addFile(huge)).toString(), name: 'raw-footage.mov', origins: origin.addrs
  })
  await settled(p2.requestid, 'failed')
  const partial = bytesOf(1 * MiB, 3)
  const held = new Set((await blocksIn(origin.blockstore)).map(String))
  const partialCid = await origin.addFile(partial)
  // Keep the root and two of the four new leaves: the fetch gets that far and waits.
  const leaves = (await blocksIn(origin.blockstore))
    .filter(c => !held.has(c.toString()) && !Buffer.from(c.multihash.bytes).equals(partialCid.multihash.bytes))
  for (const cid of leaves.slice(0, 2)) await origin.blockstore.delete(cid)
  const p3 = await api('/pins', {
    cid: partialCid.toString(), name: 'backup-2026-11-30.tar', origins: origin.addrs, meta: { app: 'backup' }
  })
  const waiting = await fileCidOf(bytesOf(300 * 1024, 4))
  await api('/pins', { cid: waiting.toString(), name: 'photos-nov.zip', origins: origin.addrs })
  await waitFor(async () => {
    const res = await svc.request(`/pins/${p3.requestid}`, { user: 'alice' })
    const p = await res.json() as { info: { status_details?: string } }
    return /fetched [1-9]/.test(p.info.status_details ?? '') ? true : undefined
  }, 30_000, 'a partial fetch')

  // Webhooks: one tested (a delivery listed), one disabled because the token that registered it was revoked.
  const hook = await api('/webhooks', { url: `${receiver.url}/deploy`, events: ['pin.pinned'], description: 'deploy' })
  await api(`/webhooks/${hook.id as string}/test`)
  const laptop = await api('/tokens', { label: 'old laptop' })
  await api('/webhooks', { url: `${receiver.url}/mirror`, events: ['pin.pinned', 'pin.deleted'] }, laptop.secret)
  await svc.request(`/tokens/${laptop.id as string}`, { method: 'DELETE', user: 'alice' })

  const shoot = async (page: Page, name: string, ready: string): Promise<void> => {
    await page.locator(ready).first().waitFor()
    await page.waitForTimeout(250)
    await page.evaluate(() => { window.scrollTo(0, 0) })
    await page.screenshot({
      path: join(out, `${name}.png`),
      fullPage: name.startsWith('phone') || name === 'admin' || name === 'webhooks'
    })
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - document.documentElement.clientWidth)
    if (overflow > 0) {
      const culprits = await page.evaluate(() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .slice(-3).map(e => `${e.tagName}.${e.className}`).join(', '))
      throw new Error(`${name}: the page is ${overflow} px wider than the window (${culprits})`)
    }
    process.stdout.write(`${name}.png\n`)
  }
  const go = async (page: Page, hash: string): Promise<void> => {
    await page.evaluate(h => { location.hash = h }, hash)
  }

  for (const [prefix, viewport] of [['', DESKTOP], ['phone-', PHONE]] as const) {
    const { page, context } = await openApp(browser, svc.url, viewport)
    await shoot(page, `${prefix}signin`, 'form')
    await signIn(page, svc.tokens.alice as string)
    await shoot(page, `${prefix}pins`, '[data-ready=pins] tbody tr')
    await go(page, `#/pins/${siteRes.requestid}`)
    await shoot(page, `${prefix}detail`, '.listing li')
    await go(page, `#/pins/${siteRes.requestid}?path=docs%2FREADME.md`)
    await shoot(page, `${prefix}detail-file`, 'pre.preview')
    await go(page, `#/pins/${p2.requestid}`)
    await shoot(page, `${prefix}detail-failed`, '.detail[data-status=failed]')
    await go(page, '#/add')
    await shoot(page, `${prefix}add`, '.drop')
    await go(page, '#/devices')
    await page.getByLabel('Label').fill('phone')
    await page.getByRole('button', { name: 'Create token' }).click()
    await shoot(page, `${prefix}devices`, '[data-secret]')
    await go(page, '#/webhooks')
    await page.locator('[data-webhook] summary', { hasText: 'Last deliveries' }).first().click()
    await shoot(page, `${prefix}webhooks`, '[data-webhook] tr[data-event]')
    await go(page, '#/usage')
    await shoot(page, `${prefix}usage`, '.bars')
    await context.close()
    const admin = await openApp(browser, svc.url, viewport)
    await signIn(admin.page, svc.tokens.admin as string)
    await go(admin.page, '#/admin')
    await admin.page.locator('[data-user=alice] summary', { hasText: 'Devices' }).click()
    await shoot(admin.page, `${prefix}admin`, '[data-user=alice] tr[data-tokenid]')
    await admin.context.close()
  }
} finally {
  await browser.close()
  await origin.stop()
  await svc.destroy()
  await receiver.kill()
  await rm(receiverDir, { recursive: true, force: true })
}
