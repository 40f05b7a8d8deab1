/**
 * Administration in real Chromium: a user created with a byte quota, whose over-quota upload the page explains,
 * and a backup of the node downloaded with the session cookie.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { uploadThroughPage, useSignedInApp } from '../fixtures/browser.js'

const web = useSignedInApp({ users: ['alice'] })
const { app } = web

describe('administration', () => {
  it('creates a user with a byte quota, and the page explains the 409 when their upload is over it', async () => {
    const page = await app(web.svc.tokens.admin as string)
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
    await uploadThroughPage(bobPage, web.files, 'big.bin', randomBytes(4096))
    const alert = bobPage.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent())
      .toMatch(/^Over your quota: storage quota exceeded.*1 KiB \(1,024 bytes\) quota.*ask an admin/)
    await bobPage.context().close()
    await page.context().close()
  })

  it('downloads a backup of the node with the session cookie', async () => {
    const page = await app(web.svc.tokens.admin as string)
    await page.getByRole('link', { name: 'Administration' }).click()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download a backup' }).click()
    ])
    expect(download.suggestedFilename()).toMatch(/^pinery-backup-\d{4}-\d\d-\d\dT[\d-]+Z\.tar$/)
    const file = join(web.files, 'backup.tar')
    await download.saveAs(file)
    const tar = await readFile(file)
    // A tar whose first entry is the manifest: the name sits at the start of the first 512-byte header.
    expect(tar.subarray(0, 18).toString()).toBe('pinery-backup.json')
    expect(tar.includes(Buffer.from('pinery-backup-end.json'))).toBe(true)
    await page.context().close()
  })
})
