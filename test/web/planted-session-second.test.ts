/**
 * A second session cookie planted from another port, in real Chromium. Over plain http cookies ignore
 * ports, so a page on another port of Pinery's host sets its own `pinery_session` (the attacker's
 * session, signed in from curl) under longer paths (/pins, /content, …): the browser then sends both.
 * Before, Pinery refused every request carrying the name twice, so the person was signed out for as long
 * as the planted cookies lived. Now the page's session key names its own cookie, and only that one counts;
 * a request without a key still cannot say which is the person's and is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { otherSite, pinNames, signIn, uploadThroughPage, useWebApp } from '../fixtures/browser.js'

declare const localStorage: Storage

const web = useWebApp({ users: ['alice', 'mallory'] })
// Every path the page asks by cookie; "/" would overwrite the person's cookie instead of adding one.
const PATHS = ['/session', '/pins', '/content', '/ipfs', '/events', '/usage', '/tokens', '/webhooks', '/health']
let attacker: Awaited<ReturnType<typeof otherSite>>
let attackerUrl: string
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinery-planted-second-'))
  const svc = web.svc
  const planted = (await svc.signIn('mallory')).cookie
  // A pin whose name the person must never see as theirs.
  expect((await svc.call('POST', '/pins', 'mallory', { cid: 'bafkqaaa', name: 'moved: sign in at evil.example' }))
    .status).toBe(202)
  attacker = await otherSite((req, out) => {
    const cookies = req.url === '/over' ? [`${planted}; Path=/`] : PATHS.map(path => `${planted}; Path=${path}`)
    out.writeHead(200, { 'content-type': 'text/html', 'set-cookie': cookies })
    out.end('<!doctype html><title>free cat pictures</title>')
  })
  attackerUrl = attacker.url
}, 120_000)
afterAll(async () => {
  attacker?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('a second session cookie planted from another port', () => {
  it('neither signs the person out nor takes their uploads; a request without the key is refused', async () => {
    const { context, page, errors } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      const tab = await context.newPage()
      await tab.goto(attackerUrl)
      await tab.close()
      const sessions = (await context.cookies(`${web.svc.url}/pins`)).filter(c => c.name === 'pinery_session')
      expect(sessions.length).toBe(2)

      // Old code: the reload's GET /session answered 401 ("several cookies"), and the page asked to sign in.
      await page.reload()
      await Promise.race([page.getByLabel('Access token').waitFor(), page.locator('#who').waitFor()])
      expect(await page.locator('#who').isVisible() ? await page.locator('#who-name').textContent() : 'signed out')
        .toBe('alice · pins:write token')

      // An upload through the page, and its detail page reading the content (HEAD and GET of /ipfs/…).
      await uploadThroughPage(page, dir, 'notes.txt', 'notes of the person at the keyboard')
      await page.locator('.detail h1').filter({ hasText: 'notes.txt' }).waitFor()
      await expect.poll(async () => await page.getByLabel('file preview').textContent())
        .toBe('notes of the person at the keyboard')
      expect(await pinNames(web.svc, 'alice')).toContain('notes.txt')
      expect(await pinNames(web.svc, 'mallory')).toEqual(['moved: sign in at evil.example'])

      // The pins page lists the person's pins, not the planted session's.
      await page.goto(`${web.svc.url}/#/pins`)
      await page.locator('td.name').filter({ hasText: 'notes.txt' }).waitFor()
      expect(await page.locator('td.name').allTextContents()).not.toContain('moved: sign in at evil.example')

      // Without the key the two cannot be told apart: refused, read or change.
      const keyless = await page.evaluate(async () => [
        (await fetch('/pins')).status,
        (await fetch('/pins', {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"cid":"bafkqaaa"}'
        })).status
      ])
      expect(keyless).toEqual([401, 401])
      expect(await page.evaluate(() => localStorage.getItem('pinery.sessionKey'))).not.toBeNull()
      expect(errors.filter(e => !e.includes('401'))).toEqual([])
    } finally {
      await context.close()
    }
  })

  it('once it overwrites the person\'s cookie, the page asks them to sign in: the planted pins are never shown',
    async () => {
      const { context, page } = await web.open()
      try {
        await signIn(page, web.svc.tokens.alice as string)
        const tab = await context.newPage()
        await tab.goto(`${attackerUrl}over`) // same name, host and path: replaces the person's cookie
        await tab.close()
        // Old code: the page's GET /pins (a read, with the person's key) answered with mallory's pins.
        await page.goto(`${web.svc.url}/#/add`)
        await page.goto(`${web.svc.url}/#/pins`)
        await Promise.race([page.getByLabel('Access token').waitFor(), page.locator('td.name').first().waitFor()])
        expect(await page.getByLabel('Access token').isVisible()).toBe(true)
        expect(await page.getByText('moved: sign in at evil.example').count()).toBe(0)
        await signIn(page, web.svc.tokens.alice as string)
        expect(await page.locator('#who-name').textContent()).toBe('alice · pins:write token')
      } finally {
        await context.close()
      }
    })
})
