/**
 * What a pin's file is saved as, in real Chromium. Before, Download on a pin's page saved "report.bin" as
 * "QmVGN2…" (no extension to open it by) and "slides.pdf" as "bafkrei….pdf", and a file opened with Open was
 * saved from the browser's viewer under its CID: the page named the download by the CID, the gateway sent
 * no Content-Disposition. The page now asks the gateway for the pin's name (`?filename=`, the path gateway
 * spec's parameter) and names the download by it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signIn, uploadThroughPage, useWebApp } from '../fixtures/browser.js'

const web = useWebApp({ users: ['alice'] })
let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'pinery-file-names-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('a pin\'s file from its page', () => {
  it('downloads and opens under the pin\'s name, not its CID', async () => {
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await uploadThroughPage(page, dir, 'report.bin', new Uint8Array([0, 1, 2, 3, 254, 255]))
      await page.locator('.detail h1').filter({ hasText: 'report.bin' }).waitFor()
      const download = page.waitForEvent('download')
      await page.getByRole('link', { name: 'Download', exact: true }).click()
      expect((await download).suggestedFilename()).toBe('report.bin') // old: the CID, no extension

      const open = await page.getByRole('link', { name: 'Open', exact: true }).getAttribute('href') ?? ''
      const tab = await context.newPage()
      const saved = tab.waitForEvent('download') // application/octet-stream: the browser saves it
      await tab.goto(new URL(open, web.svc.url).href).catch(() => undefined) // a download aborts the navigation
      expect((await saved).suggestedFilename()).toBe('report.bin') // old: the CID
    } finally {
      await context.close()
    }
  })
})
