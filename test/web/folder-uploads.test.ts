/**
 * Uploads through the page in real Chromium: a folder with its paths read back, a folder of one file, and files
 * dropped on the page under one directory with the upload's progress shown.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { directoryDag } from '../fixtures/content.js'
import { openAddPage, useSignedInApp } from '../fixtures/browser.js'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, window: any, DataTransfer: any

const web = useSignedInApp({ users: ['alice'] })
const { app } = web

describe('uploads', () => {
  it('uploads a folder with its paths and opens one of its files back', async () => {
    const dir = join(web.files, 'site')
    await mkdir(join(dir, 'css'), { recursive: true })
    const content = {
      'index.html': '<h1>hi</h1>', 'css/app.css': 'body { color: red }', 'notes.txt': 'notes kept by the team\n'
    }
    for (const [path, text] of Object.entries(content)) await writeFile(join(dir, path), text)
    const expected = await directoryDag(Object.entries(content)
      .map(([path, text]) => ({ path, bytes: new TextEncoder().encode(text) })))
    const page = await app(web.svc.tokens.alice as string)
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
    const dir = join(web.files, 'memo')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'memo.txt'), 'one file in a folder\n')
    const bytes = new TextEncoder().encode('one file in a folder\n')
    const expected = await directoryDag([{ path: 'memo.txt', bytes }])
    const page = await app(web.svc.tokens.alice as string)
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
    const page = await app(web.svc.tokens.alice as string)
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
})
