/**
 * The web app's session over plain HTTP: signing in trades a token for an
 * HttpOnly SameSite=Strict cookie; the cookie stands for that token on every
 * route (GET /ipfs too) and dies with it; unsafe requests signed in by cookie
 * need a same-origin Origin; bearer clients are unaffected; the page itself
 * is served with a strict CSP and small.
 */
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { failureOf, postContent } from '../fixtures/content.js'

let svc: TestService
let origin: string

beforeAll(async () => {
  svc = await startService({ users: ['alice'] })
  origin = svc.url
})
afterAll(async () => { await svc.destroy() })

/** The session key each sign-in gave, by the session id: what the page that signed in keeps. */
const keys = new Map<string, string>()

/** Takes a sign-in's answer: its cookie pair, raw Set-Cookie header and body; remembers its key. */
async function signedIn (res: Response): Promise<{ cookie: string, setCookie: string, body: Record<string, unknown> }> {
  expect(res.status).toBe(200)
  const setCookie = res.headers.get('set-cookie') ?? ''
  const cookie = setCookie.split(';')[0] as string
  const body = await res.json() as Record<string, unknown>
  keys.set(cookie.replace(/^[^=]+=/, ''), body.session_key as string)
  return { cookie, setCookie, body }
}

/** Signs in with `token`; returns the cookie pair to send back and the raw Set-Cookie header. */
async function signIn (token: string): Promise<{ cookie: string, setCookie: string, body: Record<string, unknown> }> {
  return await signedIn(await fetch(`${svc.url}/session`, {
    method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ token })
  }))
}

/**
 * A request with the cookie and no Authorization header, and (unless given) the key of the page that
 * signed in: the session of the last cookie in `cookie` (the person's own, after any planted one).
 */
async function withCookie (cookie: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  headers.set('cookie', cookie)
  const key = keys.get(cookie.split(';').at(-1)?.replace(/^[^=]+=/, '') ?? '')
  if (key != null && !headers.has('pinery-session-key')) headers.set('pinery-session-key', key)
  return await fetch(`${svc.url}${path}`, { ...init, headers })
}

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Strict, Path=/ cookie (not Secure over http) and says who is signed in', async () => {
    const { setCookie, body } = await signIn(svc.tokens.alice as string)
    expect(setCookie).toMatch(/^pinery_session_[A-Za-z0-9_-]{8}=[A-Za-z0-9_-]{43}; /)
    expect(setCookie).toContain('HttpOnly')
    expect(setCookie).toContain('SameSite=Strict')
    expect(setCookie).toContain('Path=/')
    expect(setCookie).not.toContain('Secure')
    expect(setCookie).not.toContain(svc.tokens.alice)
    expect(body).toMatchObject({ user: 'alice', scope: 'pins:write' })
    expect(JSON.stringify(body)).not.toContain(svc.tokens.alice)
  })

  it('refuses a bad token with 401 and no cookie', async () => {
    const res = await fetch(`${svc.url}/session`,
      { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{"token":"nope"}' })
    expect(res.status).toBe(401)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  it('refuses sign-in without this site as Origin (no login CSRF)', async () => {
    for (const headers of [{}, { origin: 'http://evil.example' }] as Array<Record<string, string>>) {
      const res = await fetch(`${svc.url}/session`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ token: svc.tokens.alice })
      })
      const failure = await failureOf(res)
      expect(failure.status).toBe(403)
      expect(failure.reason).toBe('FORBIDDEN')
      expect(res.headers.get('set-cookie')).toBeNull()
    }
  })
})

describe('the session key', () => {
  it('goes only to the page that signed in; changes and GET /session need it, reads without one and signing out ' +
    'do not, reads with another session\'s do', async () => {
    const { cookie, body } = await signIn(svc.tokens.alice as string)
    expect(body.session_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // A planted cookie: the page holding it got no key (or another session's).
    const other = (await signIn(svc.tokens.alice as string)).body.session_key as string
    for (const key of ['', other]) {
      const headers = { origin, 'content-type': 'application/json', 'pinery-session-key': key }
      for (const path of ['/session', '/Session/']) {
        const who = await failureOf(await withCookie(cookie, path, { headers }))
        expect(who).toMatchObject({ status: 401, reason: 'UNAUTHORIZED', details: /pinery-session-key/ })
      }
      const change = await withCookie(cookie, '/pins', { method: 'POST', headers, body: '{"cid":"bafkqaaa"}' })
      expect(change.status).toBe(401)
      // The page's own reads send its key: a cookie overwritten by another site's since is not shown as
      // the person's (old code: 200, the planted session's pins). A link or download sends no key.
      expect((await withCookie(cookie, '/pins', { headers })).status).toBe(key === '' ? 200 : 401)
    }
    expect((await withCookie(cookie, '/session')).status).toBe(200)
    // Signing out ends only the session its cookie names, whatever key comes with it.
    const headers = { origin, 'pinery-session-key': other }
    expect((await withCookie(cookie, '/session', { method: 'DELETE', headers })).status).toBe(204)
  })

  it('refuses a sign-in a browser says comes from another site (Sec-Fetch-Site), with a Failure body', async () => {
    for (const site of ['same-site', 'cross-site', 'none']) {
      const res = await fetch(`${svc.url}/session`, {
        method: 'POST',
        headers: { origin, 'sec-fetch-site': site, 'content-type': 'application/json' },
        body: JSON.stringify({ token: svc.tokens.alice })
      })
      expect(await failureOf(res)).toMatchObject({ status: 403, reason: 'FORBIDDEN', details: /Sec-Fetch-Site/ })
      expect(res.headers.get('set-cookie')).toBeNull()
    }
  })
})

describe('the cookie', () => {
  it('authenticates every route as the bound token, GET /ipfs included', async () => {
    const res = await postContent(svc, 'hello from the page', { query: { name: 'hello.txt' } })
    const pin = await res.json() as { requestid: string, pin: { cid: string } }
    const { cookie } = await signIn(svc.tokens.alice as string)
    expect(await (await withCookie(cookie, `/pins/${pin.requestid}`)).json())
      .toMatchObject({ requestid: pin.requestid })
    const file = await withCookie(cookie, `/ipfs/${pin.pin.cid}`)
    expect(file.status).toBe(200)
    expect(await file.text()).toBe('hello from the page')
    expect(await (await withCookie(cookie, '/session')).json()).toMatchObject({ user: 'alice', scope: 'pins:write' })
    expect((await withCookie(cookie, '/users')).status).toBe(403) // alice's token is no admin
  })

  it('needs a same-origin Origin on unsafe methods (403 with a Failure body otherwise)', async () => {
    const { cookie } = await signIn(svc.tokens.alice as string)
    const body = JSON.stringify({ cid: 'bafkqaaa', name: 'csrf' })
    const json = { 'content-type': 'application/json' }
    for (const headers of [json, { ...json, origin: 'http://evil.example' }, { ...json, origin: 'null' }]) {
      const failure = await failureOf(await withCookie(cookie, '/pins', { method: 'POST', headers, body }))
      expect(failure).toMatchObject({ status: 403, reason: 'FORBIDDEN' })
      expect(failure.details).toMatch(/Origin/)
    }
    expect((await withCookie(cookie, '/pins', { method: 'POST', headers: { ...json, origin }, body })).status).toBe(202)
    // Safe methods need none (the browser sends no Origin on a plain GET).
    expect((await withCookie(cookie, '/pins?name=csrf')).status).toBe(200)
  })

  it('ends with its token: a revoked token answers 401 and clears the cookie', async () => {
    const made = await (await svc.request('/users/alice/tokens',
      { method: 'POST', body: JSON.stringify({ label: 'browser' }) })).json() as { id: string, secret: string }
    const { cookie } = await signIn(made.secret)
    expect((await withCookie(cookie, '/pins')).status).toBe(200)
    expect((await svc.request(`/users/alice/tokens/${made.id}`, { method: 'DELETE' })).status).toBe(204)
    const res = await withCookie(cookie, '/pins')
    expect((await failureOf(res)).status).toBe(401)
    expect(res.headers.get('set-cookie')).toMatch(/^pinery_session_[A-Za-z0-9_-]{8}=; Max-Age=0/)
    expect((await withCookie(cookie, '/session')).status).toBe(401)
  })

  it('ends on sign-out', async () => {
    const { cookie } = await signIn(svc.tokens.alice as string)
    expect((await withCookie(cookie, '/session', { method: 'DELETE' })).status).toBe(403) // no Origin
    const out = await withCookie(cookie, '/session', { method: 'DELETE', headers: { origin } })
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toMatch(/^pinery_session_[A-Za-z0-9_-]{8}=; Max-Age=0/)
    expect((await withCookie(cookie, '/pins')).status).toBe(401)
    // The token itself still works elsewhere.
    expect((await svc.request('/pins', { user: 'alice' })).status).toBe(200)
  })

  it('limits a pins:add session like the token', async () => {
    const made = await (await svc.request('/tokens',
      { method: 'POST', user: 'alice', body: JSON.stringify({ label: 'ci', scope: 'pins:add' }) })).json() as
      { secret: string }
    const { cookie, body } = await signIn(made.secret)
    expect(body).toMatchObject({ user: 'alice', scope: 'pins:add' })
    expect((await withCookie(cookie, '/pins')).status).toBe(403)
  })

  it('of several session cookies (one planted by another site: cookies ignore ports) takes the one its key ' +
    'names, and refuses them without one', async () => {
    const { cookie: mine } = await signIn(svc.tokens.alice as string)
    // A page on another port signs in with its own token and sets that session with Path=/content,
    // so the browser sends it first on uploads.
    const { cookie: planted } = await signIn(svc.tokens.admin as string)
    for (const both of [`${planted}; ${mine}`, `${mine}; ${planted}`, `${planted}; ${planted}; ${mine}`]) {
      // With the key of the page that signed in (alice's): alice, for reads and changes (old code: 401).
      const keyed = { 'pinery-session-key': keys.get(mine.replace(/^[^=]+=/, '')) as string }
      const who = await withCookie(both, '/session', { headers: keyed })
      expect(who.status, both).toBe(200)
      expect(await who.json()).toMatchObject({ user: 'alice' })
      const upload = await withCookie(both, '/content?name=keyed', {
        method: 'POST', headers: { origin, ...keyed }, body: 'private'
      })
      expect(upload.status).toBe(202)
      // Without a key, or with one naming neither, none can be told: 401, read or change.
      for (const key of ['', 'A'.repeat(43)]) {
        const headers = { origin, 'pinery-session-key': key }
        for (const [method, path] of [['GET', '/session'], ['GET', '/pins'], ['POST', '/content?name=planted']]) {
          const body = method === 'POST' ? { body: 'x' } : {}
          const res = await withCookie(both, path as string, { method, headers, ...body })
          expect(await failureOf(res), `${method} ${path} ${key}`)
            .toMatchObject({ status: 401, details: expect.stringMatching(/several/) })
        }
      }
    }
    const theirs = await (await svc.request('/pins?name=planted')).json() as { count: number }
    expect(theirs.count).toBe(0)
    const alices = await (await svc.request('/pins?name=keyed', { user: 'alice' })).json() as { count: number }
    expect(alices.count).toBe(3)
    expect((await withCookie(mine, '/session')).status).toBe(200) // alone, each still works
  })

  it('an unknown or forged cookie is 401', async () => {
    expect((await withCookie('pinery_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '/pins')).status).toBe(401)
    expect((await withCookie('pinery_session=<script>', '/pins')).status).toBe(401)
  })
})

describe('bearer clients', () => {
  it('are unaffected by Origin, and a header wins over a cookie', async () => {
    const res = await svc.request('/pins', {
      method: 'POST',
      user: 'alice',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa' })
    })
    expect(res.status).toBe(202)
    const { cookie } = await signIn(svc.tokens.alice as string)
    const admin = await fetch(`${svc.url}/users`, { headers: { cookie, authorization: `Bearer ${svc.tokens.admin}` } })
    expect(admin.status).toBe(200)
  })
})

describe('the page', () => {
  it('is served with a strict CSP, no inline script or style, and at most 150 KiB gzipped on first load', async () => {
    const res = await fetch(`${svc.url}/`, { headers: { 'accept-encoding': 'gzip' } })
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'self'")
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/)
    const html = await res.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/\sstyle=|<style/)
    expect(html).not.toMatch(/https?:\/\//) // nothing from another host
    // Every asset the page loads (the module graph is static imports from /app/main.js).
    const assets = new Set<string>(['/'])
    const queue = [...html.matchAll(/(?:href|src)="(\/app\/[^"]+)"/g)].map(m => m[1] as string)
    while (queue.length > 0) {
      const path = queue.shift() as string
      if (assets.has(path)) continue
      assets.add(path)
      if (!path.endsWith('.js')) continue
      const text = await (await fetch(`${svc.url}${path}`)).text()
      for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        queue.push(new URL(m[1] as string, `http://x${path}`).pathname)
      }
    }
    let gzipped = 0
    for (const path of assets) {
      const raw = await fetch(`${svc.url}${path}`, { headers: { 'accept-encoding': 'gzip' } })
      expect(raw.status, path).toBe(200)
      expect(raw.headers.get('content-security-policy'), path).toBe(csp)
      gzipped += Number(raw.headers.get('content-length') ?? 0)
    }
    expect(assets.size).toBeGreaterThan(8)
    // Files live under a content version and are cached for good; the page is revalidated.
    expect(res.headers.get('cache-control')).toBe('no-cache')
    const main = [...assets].find(p => p.endsWith('/main.js')) as string
    expect(main).toMatch(/^\/app\/[A-Za-z0-9_-]{12}\/main\.js$/)
    expect((await fetch(`${svc.url}${main}`)).headers.get('cache-control')).toMatch(/immutable/)
    expect(gzipped).toBeLessThan(150 * 1024)
    console.log(`first load: ${assets.size} files, ${gzipped} bytes gzipped`)
  })

  it('serves gzip only to clients that ask, and 404s unknown assets', async () => {
    const { request } = await import('node:http')
    const body = await new Promise<Buffer>((resolve, reject) => {
      request(`${svc.url}/app/main.js`, { headers: { 'accept-encoding': 'gzip' } }, res => {
        expect(res.headers['content-encoding']).toBe('gzip')
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
          .on('end', () => { resolve(Buffer.concat(chunks)) })
          .on('error', reject)
      }).end()
    })
    expect(gunzipSync(body).toString()).toContain('navigate')
    expect((await fetch(`${svc.url}/app/nope.js`)).status).toBe(404)
  })
})

describe('behind a proxy that ends TLS', () => {
  const host = (): string => new URL(svc.url).host
  /** Signs in as a page on `https://<host>` would (the proxy passes Host through). */
  async function signInOverHttps (token = svc.tokens.alice): Promise<{ cookie: string, setCookie: string }> {
    return await signedIn(await fetch(`${svc.url}/session`, {
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
    const theirs = (await signInOverHttps(svc.tokens.admin)).cookie.replace(/^[^=]+=/, 'pinery_session=')
    const both = `${theirs}; ${cookie}`
    expect(await (await withCookie(both, '/session')).json()).toMatchObject({ user: 'alice' })
    const upload = await withCookie(both, '/content?name=mine', {
      method: 'POST', headers: { origin: `https://${host()}` }, body: 'private'
    })
    expect(upload.status).toBe(202)
    expect((await svc.request('/pins?name=mine', { user: 'alice' }).then(async r => await r.json()) as
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
    const { cookie, setCookie } = await signIn(svc.tokens.alice as string)
    expect(setCookie).not.toContain('Secure')
    expect(await post(cookie, { origin })).toBe(202)
    expect(await post(cookie, { origin: `https://${host()}` })).toBe(403)
  })
})
