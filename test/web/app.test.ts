/**
 * The web app in real Chromium against a real Pinery and a real origin peer:
 * sign in, live progress from queued to pinned, a folder upload read back,
 * a device token shown once and revoked (ending its session), a quota's 409
 * explained, and markup in names staying text.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { directoryDag } from '../fixtures/content.js'
import { fileCidOf, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, type TestService } from '../fixtures/service.js'
import { launchBrowser, openAddPage, openApp, signIn, uploadThroughPage } from '../fixtures/browser.js'
import type { Browser, Page } from 'playwright-core'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, window: any, localStorage: Storage, sessionStorage: Storage, DataTransfer: any

let svc: TestService
let origin: Origin
let browser: Browser
let files: string
const allErrors: string[] = []

beforeAll(async () => {
  // One fetch at a time, so a second pin waits in the queue where the page can see it.
  svc = await startService({ users: ['alice'], env: { PINERY_PIN_CONCURRENCY: '1' } })
  origin = await startOrigin()
  browser = await launchBrowser()
  files = await mkdtemp(join(tmpdir(), 'pinery-web-files-'))
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await origin?.stop()
  await svc?.destroy()
  await rm(files, { recursive: true, force: true })
  // No CSP violation, no script error on any page of any test.
  expect(allErrors.filter(e => !/status of 40[1349]/.test(e))).toEqual([])
})

async function app (token: string, viewport?: { width: number, height: number }): Promise<Page> {
  const opened = await openApp(browser, svc.url, viewport)
  opened.page.on('pageerror', err => { allErrors.push(err.message) })
  opened.page.on('console', msg => { if (msg.type() === 'error') allErrors.push(msg.text()) })
  await signIn(opened.page, token)
  return opened.page
}

describe('signing in', () => {
  it('trades a pasted token for a cookie the page cannot read, with the keyboard alone', async () => {
    const { page, context } = await openApp(browser, svc.url)
    await page.keyboard.press('Tab') // skip link
    await page.getByLabel('Access token').focus()
    await page.keyboard.type('wrong-token')
    await page.keyboard.press('Enter')
    await expect.poll(async () => await page.getByRole('alert').textContent()).toMatch(/refused/)
    await page.getByLabel('Access token').fill('')
    await page.keyboard.type(svc.tokens.alice as string)
    await page.keyboard.press('Enter')
    await page.locator('#who-name').filter({ hasText: 'alice · pins:write token' }).waitFor()
    await page.locator('[data-ready=pins]').waitFor()
    // The token is nowhere page script or a URL can reach.
    expect(await page.evaluate(() => document.cookie)).toBe('')
    // Storage holds only the session's key (no credential alone: the HttpOnly cookie is one).
    const stored = await page.evaluate(() =>
      JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
    expect(stored).toMatch(/^\{"pinery\.sessionKey":"[A-Za-z0-9_-]{43}"\}\{\}$/)
    expect(stored).not.toContain(svc.tokens.alice)
    expect(page.url()).not.toContain(svc.tokens.alice)
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

describe('pins', () => {
  it('shows a pin from an origin go from queued to pinned without a reload', async () => {
    const first = randomBytes(600 * 1024)
    const second = randomBytes(700 * 1024)
    const [firstCid, secondCid] = [await fileCidOf(first), await fileCidOf(second)]
    const page = await app(svc.tokens.alice as string)
    // Pinned through the page's form; the origin gets the bytes only later, so the first waits
    // at the worker and the second in the queue.
    for (const [cid, name] of [[firstCid, 'first-of-two'], [secondCid, 'second-of-two']] as const) {
      await openAddPage(page)
      await page.getByLabel('CID', { exact: true }).fill(cid.toString())
      await page.getByLabel('Name (optional)').last().fill(name)
      await page.getByLabel('Origins (optional)').fill(origin.addrs.join('\n'))
      await page.getByLabel('Meta (optional)').last().fill('app=web-test')
      await page.getByRole('button', { name: 'Pin', exact: true }).click()
      await page.locator('.detail h1').filter({ hasText: name }).waitFor()
    }
    await page.getByRole('link', { name: 'Pins', exact: true }).click()
    const row = page.locator('tr', { hasText: 'second-of-two' })
    await row.locator('[data-status=queued]').waitFor()
    await expect.poll(async () => await row.textContent()).toMatch(/next in the queue \(1 waiting\)/)
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 1 })
    await origin.addFile(first)
    await origin.addFile(second)
    await row.locator('[data-status=pinned]').waitFor({ timeout: 30_000 })
    expect(await row.textContent()).toMatch(/700 KiB/)
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1) // no reload
    // Filters: status and meta narrow the list.
    await page.getByLabel('Name', { exact: true }).fill('OF-TWO')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(async () => await page.locator('tbody tr').count()).toBe(2)
    await page.getByLabel('pinned').uncheck()
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByText('No pins match these filters.').waitFor()
    await page.close()
  })

  it('shows why a pin failed, and retries it', async () => {
    const json = { 'content-type': 'application/json' }
    const patch = async (quota: unknown): Promise<void> => {
      const res = await svc.request('/users/alice', { method: 'PATCH', headers: json, body: JSON.stringify({ quota }) })
      expect(res.status).toBe(200)
    }
    const used = (await (await svc.request('/usage', { user: 'alice' })).json() as { bytes: number }).bytes
    await patch({ bytes: used + 100 * 1024 })
    try {
      const cid = await origin.addFile(randomBytes(300 * 1024))
      const res = await svc.request('/pins', {
        method: 'POST',
        user: 'alice',
        headers: json,
        body: JSON.stringify({ cid: cid.toString(), name: 'too-big', origins: origin.addrs })
      })
      expect(res.status).toBe(202)
      const { requestid } = await res.json() as { requestid: string }
      const page = await app(svc.tokens.alice as string)
      await page.evaluate((id: string) => { window.location.hash = `#/pins/${id}` }, requestid)
      await page.locator('.detail[data-status=failed]').waitFor({ timeout: 30_000 })
      expect(await page.locator('.detail .reason').textContent()).toMatch(/storage quota exceeded/)
      await patch(null)
      await page.getByRole('button', { name: 'Retry' }).click()
      await page.locator('.detail[data-status=pinned]').waitFor({ timeout: 30_000 })
      expect(page.url()).not.toContain(requestid) // a replace answers with a new request
      expect(await page.locator('.detail').textContent()).toContain(cid.toString())
      await page.context().close()
    } finally {
      await patch(null)
    }
  })

  it('uploads a folder with its paths and opens one of its files back', async () => {
    const dir = join(files, 'site')
    await mkdir(join(dir, 'css'), { recursive: true })
    const content = {
      'index.html': '<h1>hi</h1>', 'css/app.css': 'body { color: red }', 'notes.txt': 'notes kept by the team\n'
    }
    for (const [path, text] of Object.entries(content)) await writeFile(join(dir, path), text)
    const expected = await directoryDag(Object.entries(content)
      .map(([path, text]) => ({ path, bytes: new TextEncoder().encode(text) })))
    const page = await app(svc.tokens.alice as string)
    await openAddPage(page)
    await page.locator('#pick-folder').setInputFiles(dir)
    await page.getByText('3 files').waitFor()
    await page.getByRole('button', { name: 'Upload' }).click()
    await page.locator('.detail h1').filter({ hasText: 'site' }).waitFor()
    await page.locator('.detail[data-status=pinned]').waitFor()
    expect(await page.locator('.detail').textContent()).toContain(expected.root.toString())
    await page.getByRole('link', { name: 'notes.txt' }).click()
    await expect.poll(async () => await page.getByLabel('file preview').textContent()).toBe(content['notes.txt'])
    const [tab] = await Promise.all([
      page.context().waitForEvent('page'), page.getByRole('link', { name: 'Open file' }).click()
    ])
    await tab.waitForLoadState()
    expect((await tab.evaluate(() => document.body.innerText)).trim()).toBe(content['notes.txt'].trim())
    await page.context().close()
  })

  it('uploads a folder of one file as a folder', async () => {
    // A form of one file is stored as the file itself unless it asks to be wrapped: the page asks for a folder.
    const dir = join(files, 'memo')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'memo.txt'), 'one file in a folder\n')
    const bytes = new TextEncoder().encode('one file in a folder\n')
    const expected = await directoryDag([{ path: 'memo.txt', bytes }])
    const page = await app(svc.tokens.alice as string)
    await openAddPage(page)
    await page.locator('#pick-folder').setInputFiles(dir)
    await page.getByText('1 file').waitFor()
    await page.getByRole('button', { name: 'Upload' }).click()
    await page.locator('.detail h1').filter({ hasText: 'memo' }).waitFor()
    await page.locator('.detail[data-status=pinned]').waitFor()
    expect(await page.locator('.detail').textContent()).toContain(expected.root.toString())
    await page.context().close()
  })

  it('uploads several files dropped on the page under one directory, showing upload progress', async () => {
    const page = await app(svc.tokens.alice as string)
    await openAddPage(page)
    const drop = await page.evaluateHandle(() => {
      const data = new DataTransfer()
      data.items.add(new File(['first dropped file'], 'a.txt', { type: 'text/plain' }))
      data.items.add(new File(['second dropped file'], 'b.txt', { type: 'text/plain' }))
      data.items.add(new File([new Uint8Array(16 * 1024 * 1024)], 'zeros.bin'))
      return data
    })
    await page.locator('[data-drop]').dispatchEvent('drop', { dataTransfer: drop })
    await page.getByText('3 files').waitFor()
    await page.getByLabel('Name (optional)').first().fill('dropped')
    // Every text the progress line shows while the body goes up.
    await page.evaluate(() => {
      const line = document.querySelector('form .progress small')
      window.progressSeen = []
      new window.MutationObserver(() => { window.progressSeen.push(line.textContent) })
        .observe(line, { childList: true, characterData: true, subtree: true })
    })
    await page.getByRole('button', { name: 'Upload' }).click()
    await page.locator('.detail[data-status=pinned]').waitFor()
    const expected = await directoryDag([
      { path: 'a.txt', bytes: new TextEncoder().encode('first dropped file') },
      { path: 'b.txt', bytes: new TextEncoder().encode('second dropped file') },
      { path: 'zeros.bin', bytes: new Uint8Array(16 * 1024 * 1024) }
    ])
    expect(await page.locator('.detail').textContent()).toContain(expected.root.toString())
    await page.locator('.listing li').nth(2).waitFor() // the listing is read after the pin shows
    expect(await page.locator('.listing li').allTextContents())
      .toEqual(['a.txt 18 B', 'b.txt 19 B', 'zeros.bin 16 MiB'])
    // At the root no path is shown (a lone "root" linked to this page); inside, the path leads back.
    expect(await page.locator('nav.crumbs').count()).toBe(0)
    await page.locator('.listing a', { hasText: 'a.txt' }).click()
    expect(await page.locator('nav.crumbs').first().textContent()).toBe('root / a.txt')
    await page.locator('nav.crumbs a', { hasText: 'root' }).click()
    await page.locator('.listing li').nth(2).waitFor()
    const seen = await page.evaluate(() => window.progressSeen as string[])
    expect(seen.some(t => /^[\d.]+ (B|KiB|MiB) of 16 MiB sent$/.test(t))).toBe(true)
    await page.context().close()
  })

  it('shows a pin named with markup as text', async () => {
    const name = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    const res = await svc.request('/pins', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa', name, meta: { '<i>k</i>': '<script>window.pwned=2</script>' } })
    })
    const { requestid } = await res.json() as { requestid: string }
    const page = await app(svc.tokens.alice as string)
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
    await svc.request('/pins', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa', name: 'keyboard-pin' })
    })
    const page = await app(svc.tokens.admin as string, { width: 390, height: 844 })
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

describe('devices', () => {
  it('shows a new token once, and revoking it ends the session signed in with it', async () => {
    const page = await app(svc.tokens.alice as string)
    await page.getByRole('link', { name: 'Devices' }).click()
    await page.getByLabel('Label').fill('phone')
    await page.getByLabel('Scope').selectOption('pins:read')
    await page.getByRole('button', { name: 'Create token' }).click()
    const secret = (await page.locator('[data-secret]').textContent()) ?? ''
    expect(secret).toMatch(/^pinery_/)
    expect(await page.locator('pre.cmd').textContent()).toBe(`ipfs pin remote service add pinery ${svc.url} ${secret}`)
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

describe('administration', () => {
  it('creates a user with a byte quota, and the page explains the 409 when their upload is over it', async () => {
    const page = await app(svc.tokens.admin as string)
    await page.getByRole('link', { name: 'Administration' }).click()
    await page.locator('.node dd', { hasText: 'blocks' }).waitFor()
    await page.getByLabel('Name', { exact: true }).fill('bob')
    await page.getByLabel('Byte quota').first().fill('1KiB')
    await page.getByRole('button', { name: 'Create user' }).click()
    const bob = page.locator('[data-user=bob]')
    await bob.waitFor()
    expect(await bob.textContent()).toContain('0 B of 1 KiB')
    await bob.getByText('Devices').click()
    await bob.getByLabel('Label').fill('laptop')
    await bob.getByRole('button', { name: 'Create token' }).click()
    const secret = (await bob.locator('[data-secret]').textContent()) ?? ''
    const bobPage = await app(secret)
    await uploadThroughPage(bobPage, files, 'big.bin', randomBytes(4096))
    const alert = bobPage.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent())
      .toMatch(/^Over your quota: storage quota exceeded.*1 KiB \(1,024 bytes\) quota.*ask an admin/)
    await bobPage.context().close()
    await page.context().close()
  })

  it('downloads a backup of the node with the session cookie', async () => {
    const page = await app(svc.tokens.admin as string)
    await page.getByRole('link', { name: 'Administration' }).click()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download a backup' }).click()
    ])
    expect(download.suggestedFilename()).toMatch(/^pinery-backup-\d{4}-\d\d-\d\dT[\d-]+Z\.tar$/)
    const file = join(files, 'backup.tar')
    await download.saveAs(file)
    const tar = await readFile(file)
    // A tar whose first entry is the manifest: the name sits at the start of the first 512-byte header.
    expect(tar.subarray(0, 18).toString()).toBe('pinery-backup.json')
    expect(tar.includes(Buffer.from('pinery-backup-end.json'))).toBe(true)
    await page.context().close()
  })
})
