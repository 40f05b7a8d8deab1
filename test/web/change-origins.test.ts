/**
 * A pin whose origins were wrong (here a port typed wrong) is corrected on its page: the Change card's Origins
 * field, which Retry and Restart (and Replace) pin with. Real Chromium, a real Pinery (a 4 s stall so that a
 * pin fails within the test) and real origin peers over TCP on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PHONE, signIn, useWebApp } from '../fixtures/browser.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'

const web = useWebApp({ users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '4000' } })
const origins: Origin[] = []

beforeAll(async () => {
  // One origin per test: once Pinery is connected to a peer, it asks it for blocks whatever the origins say.
  for (let i = 0; i < 2; i++) origins.push(await startOrigin())
}, 60_000)
afterAll(async () => { await Promise.all(origins.map(async o => { await o.stop() })) })

/** A pin of a file only `origin` has, naming the origin at a port nothing listens on. */
async function mistypedPin (origin: Origin, name: string): Promise<{ requestid: string, right: string[] }> {
  const cid = (await origin.addFile(randomBytes(300 * 1024))).toString()
  const right = origin.addrs
  const wrong = right.map(a => a.replace(/\/tcp\/\d+\//, '/tcp/1/'))
  const made = await web.svc.call('POST', '/pins', 'alice', { cid, name, origins: wrong })
  return { requestid: (await made.json() as { requestid: string }).requestid, right }
}

/** The origins of `user`'s pin named `name`. */
async function originsOf (name: string): Promise<string[] | undefined> {
  const res = await web.svc.request(`/pins?name=${encodeURIComponent(name)}`, { user: 'alice' })
  return (await res.json() as { results: Array<{ pin: { origins?: string[] } }> }).results[0]?.pin.origins
}

describe('a pin whose origins were wrong', () => {
  it('is retried with the origins corrected on its page, typed while it was still looking', async () => {
    const { requestid, right } = await mistypedPin(origins[0] as Origin, 'typo-retry')
    const { context, page } = await web.open()
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await page.goto(`/#/pins/${requestid}`)
      const field = page.getByLabel('Origins', { exact: true })
      // Old page: no such field; the person had to pin anew.
      expect(await field.inputValue()).toMatch(/\/tcp\/1\//)
      await field.fill(right.join('\n'))
      // The failure redraws the status above the card; what was typed stays.
      await page.locator('.detail[data-status=failed]').waitFor()
      expect(await field.inputValue()).toBe(right.join('\n'))
      await page.getByRole('button', { name: 'Retry' }).click()
      await page.locator('.detail[data-status=pinned]').waitFor()
      expect(await originsOf('typo-retry')).toEqual(right)
    } finally {
      await context.close()
    }
  })

  it('is restarted with corrected origins before it fails, on a phone', async () => {
    const { requestid, right } = await mistypedPin(origins[1] as Origin, 'typo-restart')
    const { context, page } = await web.open(PHONE)
    try {
      await signIn(page, web.svc.tokens.alice as string)
      await page.goto(`/#/pins/${requestid}`)
      const field = page.getByLabel('Origins', { exact: true })
      // The address, wrapped on the phone's width, is seen whole without scrolling inside the field.
      expect(await field.evaluate((el: { scrollHeight: number, clientHeight: number }) =>
        el.scrollHeight <= el.clientHeight)).toBe(true)
      await field.fill(right.join('\n'))
      // "Restart" while it is looking; on a loaded machine the 4 s stall may have ended it first ("Retry").
      await page.getByRole('button', { name: /^(Restart|Retry)$/ }).click()
      await page.locator('.detail[data-status=pinned]').waitFor()
      expect(await originsOf('typo-restart')).toEqual(right)
    } finally {
      await context.close()
    }
  })
})
