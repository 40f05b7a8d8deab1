/**
 * The web app's session behind a proxy that ends TLS: a session signed in from an https page gets a Secure
 * `__Host-` cookie and takes only that Origin; one signed in over http stays http-only.
 */
import { describe, expect, it } from 'vitest'
import { failureOf } from '../fixtures/content.js'
import { useCookieClient } from '../fixtures/session.js'

const web = useCookieClient({ users: ['alice'] })
const { signIn, signedIn, withCookie } = web

describe('behind a proxy that ends TLS', () => {
  const host = (): string => new URL(web.svc.url).host
  /** Signs in as a page on `https://<host>` would (the proxy passes Host through). */
  async function signInOverHttps (token = web.svc.tokens.alice): Promise<{ cookie: string, setCookie: string }> {
    return await signedIn(await fetch(`${web.svc.url}/session`, {
      method: 'POST',
      headers: { origin: `https://${host()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token })
    }))
  }
  const post = async (cookie: string, headers: Record<string, string>): Promise<number> =>
    (await withCookie(cookie, '/pins', {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"cid":"bafkqaaa"}'
    })).status

  it('marks the cookie Secure when the page signing in is on https (Pinery itself serves only http)', async () => {
    const { setCookie, cookie } = await signInOverHttps()
    expect(setCookie).toMatch(/; Secure\b/)
    // Signing out over https clears it with the same attributes.
    const out = await withCookie(cookie, '/session', { method: 'DELETE', headers: { origin: `https://${host()}` } })
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toMatch(/^(__Host-)?pinery_session_[A-Za-z0-9_-]{8}=; Max-Age=0; .*; Secure/)
  })

  it('names an https session\'s cookie __Host-, so a sibling site cannot set its own over it', async () => {
    const { setCookie, cookie } = await signInOverHttps()
    expect(setCookie)
      .toMatch(/^__Host-pinery_session_[A-Za-z0-9_-]{8}=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/)
    // An attacker signs in with their own token and plants that session as a plain pinery_session
    // cookie (Domain=<parent>; Path=/content from a sibling subdomain): the browser sends it first.
    const theirs = (await signInOverHttps(web.svc.tokens.admin)).cookie.replace(/^[^=]+=/, 'pinery_session=')
    const both = `${theirs}; ${cookie}`
    expect(await (await withCookie(both, '/session')).json()).toMatchObject({ user: 'alice' })
    const upload = await withCookie(both, '/content?name=mine', {
      method: 'POST', headers: { origin: `https://${host()}` }, body: 'private'
    })
    expect(upload.status).toBe(202)
    expect((await web.svc.request('/pins?name=mine', { user: 'alice' }).then(async r => await r.json()) as
      { count: number }).count).toBe(1)
    // Alone, an https session under the plain name is no session.
    expect((await withCookie(theirs, '/session')).status).toBe(401)
  })

  it('accepts the https Origin it was signed in from, and refuses another port, host or scheme', async () => {
    const { cookie } = await signInOverHttps()
    expect(await post(cookie, { origin: `https://${host()}` })).toBe(202)
    expect(await post(cookie, { origin: `https://${host().replace(/:\d+$/, ':1')}` })).toBe(403)
    expect(await post(cookie, { origin: 'https://pinery.example', host: host() })).toBe(403)
    expect(await post(cookie, { origin: `ftp://${host()}` })).toBe(403)
    // A page on plain http://the-same-host (a network attacker's, in a browser whose SameSite ignores the
    // scheme) is not the https page the session was signed in from.
    const failure = await failureOf(await withCookie(cookie, '/pins', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://${host()}` },
      body: '{"cid":"bafkqaaa"}'
    }))
    expect(failure).toMatchObject({ status: 403, reason: 'FORBIDDEN' })
    expect(failure.details).toContain(`https://${host()}`)
  })

  it('a session signed in over http stays http-only (no Secure) and refuses an https Origin', async () => {
    const { cookie, setCookie } = await signIn(web.svc.tokens.alice as string)
    expect(setCookie).not.toContain('Secure')
    expect(await post(cookie, { origin: web.svc.url })).toBe(202)
    expect(await post(cookie, { origin: `https://${host()}` })).toBe(403)
  })
})
