/**
 * A second session cookie planted from another port, in real Chromium. Over plain http cookies ignore
 * ports, so a page on another port of Pinery's host sets its own `pinery_session` (the attacker's
 * session, signed in from curl) under longer paths (/pins, /content, …): the browser then sends both.
 * Before, Pinery refused every request carrying the name twice, so the person was signed out for as long
 * as the planted cookies lived. Now the page's session key names its own cookie, and only that one counts;
 * a request without a key still cannot say which is the person's and is refused. The page's links, image
 * preview and event stream carry the key as `session_key` (before: 401 while a cookie covered their path),
 * and each session's cookie has a name of its own, so one planted under Path=/ no longer replaces the
 * person's (before: they were signed out).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { otherSite, pinNames, signIn, uploadThroughPage, useWebApp } from '../fixtures/browser.js'

declare const localStorage: Storage

const web = useWebApp({ users: ['alice', 'mallory'] })
// A CID no peer has: its pin stays in flight while the test looks.
const UNREACHABLE = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
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
    // Under Path=/: her session's own cookie name, and the bare name (the person's, which she cannot read).
    const cookies = req.url === '/over'
      ? [`${planted}; Path=/`, `pinery_session=${planted.split('=')[1] ?? ''}; Path=/`]
      : PATHS.map(path => `${planted}; Path=${path}`)
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
      const sessions = (await context.cookies(`${web.svc.url}/pins`)).filter(c => c.name.startsWith('pinery_session'))
      expect(sessions.length).toBe(2)
      const answers: Array<[string, number]> = []
      page.on('response', res => { answers.push([new URL(res.url()).pathname, res.status()]) })

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
      // Its links as the browser follows them (cookies, none of the page's headers): Open, Download, Download
      // CAR (old page: 401 each, a cookie of mallory's covers /ipfs).
      const links = await page.locator('.detail a.button[href^="/ipfs/"]')
        .evaluateAll(as => as.map(a => a.getAttribute('href') ?? ''))
      expect(links.length).toBe(3)
      const followed = await page.evaluate(async (urls: string[]) => await Promise.all(urls.map(async u =>
        (await fetch(u, { cache: 'no-store' })).status)), links)
      expect(followed).toEqual([200, 200, 200])

      // A pin in flight: the pins page follows it by the event stream (old page: 401, a cookie covers /events).
      expect((await web.svc.call('POST', '/pins', 'alice', { cid: UNREACHABLE, name: 'far away' })).status).toBe(202)

      // The pins page lists the person's pins, not the planted session's.
      await page.goto(`${web.svc.url}/#/pins`)
      await page.locator('td.name').filter({ hasText: 'notes.txt' }).waitFor()
      expect(await page.locator('td.name').allTextContents()).not.toContain('moved: sign in at evil.example')
      await expect.poll(() => answers.filter(([path]) => path === '/events').map(([, status]) => status)[0])
        .toBe(200)
      expect(answers.filter(([path, status]) => status === 401 && path.startsWith('/ipfs'))).toEqual([])

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

  it('under Path=/ does not replace the person\'s cookie: they stay signed in and never see the planted pins',
    async () => {
      const { context, page } = await web.open()
      try {
        await signIn(page, web.svc.tokens.alice as string)
        const tab = await context.newPage()
        await tab.goto(`${attackerUrl}over`) // Path=/: under the one name of old it replaced the person's
        await tab.close()
        expect((await context.cookies(web.svc.url)).filter(c => c.name.startsWith('pinery_session')).length).toBe(3)
        // Old code: the page's GET /pins (with the person's key) answered 401, and it asked to sign in again.
        await page.goto(`${web.svc.url}/#/add`)
        await page.goto(`${web.svc.url}/#/pins`)
        await Promise.race([page.getByLabel('Access token').waitFor(), page.locator('td.name').first().waitFor()])
        expect(await page.getByLabel('Access token').isVisible()).toBe(false)
        expect(await page.locator('#who-name').textContent()).toBe('alice · pins:write token')
        expect(await page.getByText('moved: sign in at evil.example').count()).toBe(0)
        // A change as the page makes it (its key, its cookies) lands in the person's account.
        const status = await page.evaluate(async () => (await fetch('/pins', {
          method: 'POST',
          headers: {
            'content-type': 'application/json', 'pinery-session-key': localStorage.getItem('pinery.sessionKey') ?? ''
          },
          body: JSON.stringify({ cid: 'bafkqaaa', name: 'meant-for-alice' })
        })).status)
        expect(status).toBe(202)
        expect(await pinNames(web.svc, 'alice')).toContain('meant-for-alice')
        expect(await pinNames(web.svc, 'mallory')).not.toContain('meant-for-alice')
      } finally {
        await context.close()
      }
    })
})
