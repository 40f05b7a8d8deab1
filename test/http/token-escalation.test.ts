/**
 * No token does more than its scope through the token routes: a weak token
 * cannot list, mint or revoke, no token revokes a stronger one, children
 * expire no later than their creator and go with its revocation, each token
 * shows who created it, the rate limit holds per user however many tokens
 * they mint, and a user's tokens are capped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startService, type TestService } from '../fixtures/service.js'

interface Created { id: string, secret: string, expires?: string, createdBy?: string, createdByUser?: string }

describe('token escalation', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startService({ users: ['alice', 'bob'], env: { PINERY_MAX_TOKENS_PER_USER: '12' } })
    const promote = await service.request('/users/bob',
      { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"role":"admin"}' })
    expect(promote.status).toBe(200)
  })
  afterAll(async () => { await service.destroy() })

  const call = async (secret: string, method: string, path: string, body?: unknown): Promise<Response> =>
    await service.request(path, {
      method,
      user: null,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
  const mint = async (secret: string, body: Record<string, unknown> = {}, path = '/tokens'): Promise<Created> => {
    const res = await call(secret, 'POST', path, body)
    expect(res.status, await res.clone().text()).toBe(201)
    return await res.json() as Created
  }
  const works = async (secret: string): Promise<number> => (await call(secret, 'GET', '/usage')).status

  it('a pins:add token can neither list, mint nor revoke tokens; the bootstrap admin token survives it', async () => {
    const ci = await mint(service.tokens.alice as string, { label: 'ci', scope: 'pins:add' })
    expect((await call(ci.secret, 'GET', '/tokens')).status).toBe(403)
    expect((await call(ci.secret, 'POST', '/tokens', { scope: 'pins:add' })).status).toBe(403)
    expect((await call(ci.secret, 'DELETE', `/tokens/${ci.id}`)).status).toBe(403)
    // The admin user's own pins:add token against the bootstrap token.
    const adminCi = await mint(service.tokens.admin as string, { label: 'admin-ci', scope: 'pins:add' })
    const res = await call(adminCi.secret, 'DELETE', '/tokens/bootstrap')
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({ error: { reason: 'FORBIDDEN', details: expect.stringContaining('pins:write') } })
    expect(await works(service.tokens.admin as string)).toBe(200)
  })

  it('no token revokes one of a higher scope than its own', async () => {
    const writer = await mint(service.tokens.admin as string, { label: 'writer', scope: 'pins:write' })
    const res = await call(writer.secret, 'DELETE', '/tokens/bootstrap')
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({
      error: {
        reason: 'FORBIDDEN',
        details: 'this token has the pins:write scope; revoking token bootstrap needs admin, its scope'
      }
    })
    expect(await works(service.tokens.admin as string)).toBe(200)
    // Its own level and below: fine.
    const sibling = await mint(service.tokens.admin as string, { label: 'sibling', scope: 'pins:write' })
    expect((await call(writer.secret, 'DELETE', `/tokens/${sibling.id}`)).status).toBe(204)
  })

  it('a child expires no later than its creator: inherited when not given, refused when later', async () => {
    const expires = new Date(Date.now() + 3_600_000).toISOString()
    const parent = await mint(service.tokens.alice as string, { label: 'temp', expires })
    const child = await mint(parent.secret, { label: 'child' })
    expect(child.expires).toBe(expires)
    const later = await call(parent.secret, 'POST', '/tokens',
      { label: 'forever', expires: new Date(Date.now() + 7_200_000).toISOString() })
    expect(later.status).toBe(400)
    expect(await later.json()).toEqual({
      error: {
        reason: 'BAD_REQUEST',
        details: `expires: may be no later than ${expires}, when the token creating it expires`
      }
    })
    const sooner = new Date(Date.now() + 600_000).toISOString()
    expect((await mint(parent.secret, { label: 'sooner', expires: sooner })).expires).toBe(sooner)
  })

  it('the admin routes bound expiry the same way: a temporary admin token mints no lasting one', async () => {
    const expires = new Date(Date.now() + 3_600_000).toISOString()
    const temp = await mint(service.tokens.admin as string, { label: 'temp-admin', scope: 'admin', expires })
    const forAdmin = await mint(temp.secret, { scope: 'admin' }, '/users/admin/tokens')
    expect(forAdmin.expires).toBe(expires)
    const forBob = await mint(temp.secret, { scope: 'admin' }, '/users/bob/tokens')
    expect(forBob).toMatchObject({ expires, createdBy: temp.id, createdByUser: 'admin' })
    const tooLate = { expires: new Date(Date.now() + 7_200_000).toISOString() }
    expect((await call(temp.secret, 'POST', '/users/alice/tokens', tooLate)).status).toBe(400)
  })

  it('revoking a token revokes the tokens it created, theirs in turn, and nothing else', async () => {
    const alice = service.tokens.alice as string
    const laptop = await mint(alice, { label: 'laptop' })
    const phone = await mint(laptop.secret, { label: 'phone' })
    const watch = await mint(phone.secret, { label: 'watch', scope: 'pins:read' })
    const other = await mint(alice, { label: 'other' })
    // An admin's token for alice is the admin's decision, not a child of an alice token.
    const fromAdmin = await mint(service.tokens.admin as string, { label: 'from-admin' }, '/users/alice/tokens')
    expect((await call(alice, 'DELETE', `/tokens/${laptop.id}`)).status).toBe(204)
    for (const gone of [laptop, phone, watch]) expect(await works(gone.secret)).toBe(401)
    for (const kept of [other, fromAdmin]) expect(await works(kept.secret)).toBe(200)
    expect(await works(alice)).toBe(200)
  })

  it('the list shows which token created each one', async () => {
    const alice = service.tokens.alice as string
    const parent = await mint(alice, { label: 'parent' })
    const child = await mint(parent.secret, { label: 'kid' })
    const byAdmin = await mint(service.tokens.admin as string, { label: 'by-admin' }, '/users/alice/tokens')
    const { results } = await (await call(alice, 'GET', '/tokens')).json() as { results: Created[] }
    const byId = new Map(results.map(t => [t.id, t]))
    expect(byId.get(child.id)).toMatchObject({ createdBy: parent.id })
    expect(byId.get(child.id)?.createdByUser).toBeUndefined()
    expect(byId.get(byAdmin.id)).toMatchObject({ createdBy: 'bootstrap', createdByUser: 'admin' })
    const listed = await (await service.request('/users/alice/tokens')).json() as { results: Created[] }
    expect(listed.results.find(t => t.id === child.id)).toMatchObject({ createdBy: parent.id })
  })

  it.each([
    ['an escape sequence', 'evil\u001b]0;pwned\u0007'],
    ['a newline', 'two\nlines'],
    ['a bidi override', 'abc\u202Etxt.exe'],
    ['a C1 control', 'x\u009b31m'],
    ['nothing', ''],
    ['129 characters', 'x'.repeat(129)]
  ])('refuses a label with %s', async (_what, label) => {
    const res = await call(service.tokens.alice as string, 'POST', '/tokens', { label })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: { reason: 'BAD_REQUEST', details: expect.stringContaining('label') } })
    expect((await call(service.tokens.admin as string, 'POST', '/users/alice/tokens', { label })).status).toBe(400)
  })

  it('takes labels of any script, punctuation and symbols', async () => {
    const label = 'Zoë’s iPhone — 手机 #2 (ci/cd) ✓'
    const created = await mint(service.tokens.alice as string, { label })
    expect(created).toMatchObject({ label })
  })

  it('caps tokens per user with 409 CONFLICT naming the limit; revoking makes room', async () => {
    const bob = await mint(service.tokens.admin as string, { label: 'bob-main' }, '/users/bob/tokens')
    const made: Created[] = []
    for (;;) {
      const res = await call(bob.secret, 'POST', '/tokens', { label: `d${made.length}` })
      if (res.status !== 201) {
        expect(res.status).toBe(409)
        expect(await res.json()).toEqual({
          error: {
            reason: 'CONFLICT',
            details: expect.stringMatching(/user bob has 12 tokens, the most allowed \(PINERY_MAX_TOKENS_PER_USER=12\)/)
          }
        })
        break
      }
      made.push(await res.json() as Created)
      expect(made.length).toBeLessThan(20)
    }
    expect((await call(service.tokens.admin as string, 'POST', '/users/bob/tokens', {})).status).toBe(409)
    expect((await call(bob.secret, 'DELETE', `/tokens/${made[0]?.id}`)).status).toBe(204)
    expect((await call(bob.secret, 'POST', '/tokens', { label: 'room' })).status).toBe(201)
  })
})

describe('token races', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startService({ users: ['erin', 'fay'], env: { PINERY_MAX_TOKENS_PER_USER: '5' } })
  })
  afterAll(async () => { await service.destroy() })

  const post = async (secret: string, body: unknown): Promise<Response> => await service.request('/tokens', {
    method: 'POST', user: null, headers: { authorization: `Bearer ${secret}` }, body: JSON.stringify(body)
  })

  it('concurrent creates never take a user past the cap', async () => {
    const erin = service.tokens.erin as string
    const answers = await Promise.all(Array.from({ length: 20 },
      async (_, i) => (await post(erin, { label: `r${i}` })).status))
    // The fixture's token plus four more.
    expect(answers.filter(s => s === 201)).toHaveLength(4)
    expect(answers.filter(s => s === 409)).toHaveLength(16)
    const { count } = await (await service.request('/tokens', { user: 'erin' })).json() as { count: number }
    expect(count).toBe(5)
  })

  it('a child created while its creator is revoked is revoked with it or refused', async () => {
    for (let round = 0; round < 5; round++) {
      const parent = await (await post(service.tokens.fay as string, { label: `p${round}` })).json() as Created
      const [created] = await Promise.all([
        post(parent.secret, { label: `c${round}` }),
        service.request(`/tokens/${parent.id}`, { method: 'DELETE', user: 'fay' })
      ])
      if (created.status === 201) {
        const child = await created.json() as Created
        const headers = { authorization: `Bearer ${child.secret}` }
        expect((await service.request('/usage', { user: null, headers })).status).toBe(401)
      } else {
        expect(created.status).toBe(401)
      }
      const { results } = await (await service.request('/tokens', { user: 'fay' })).json() as { results: Created[] }
      expect(results.map(t => t.id)).toHaveLength(1)
    }
  })
})

describe('rate limit per user', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startService({ users: ['carol', 'dave'], env: { PINERY_RATE_LIMIT: '1', PINERY_RATE_BURST: '3' } })
  })
  afterAll(async () => { await service.destroy() })

  it('minting new tokens does not reset it, and other users keep theirs', async () => {
    const carol = service.tokens.carol as string
    const create = await service.request('/tokens', { method: 'POST', user: 'carol', body: '{"label":"fresh"}' })
    expect(create.status).toBe(201)
    const fresh = (await create.json() as { secret: string }).secret
    const status = async (secret: string): Promise<number> =>
      (await service.request('/usage', { user: null, headers: { authorization: `Bearer ${secret}` } })).status
    const seen: number[] = []
    for (let i = 0; i < 3; i++) seen.push(await status(carol))
    expect(seen).toContain(429)
    const res = await service.request('/usage', { user: null, headers: { authorization: `Bearer ${fresh}` } })
    expect(res.status).toBe(429)
    expect(await res.json()).toEqual({
      error: {
        reason: 'TOO_MANY_REQUESTS',
        details: expect.stringContaining('user carol may make 1 requests per second')
      }
    })
    expect(await status(service.tokens.dave as string)).toBe(200)
  })
})

describe('a new PINERY_ADMIN_TOKEN', () => {
  it('replaces the old admin token, and what the old one created for admin goes with it', async () => {
    let service = await startService({ users: ['gus'] })
    const { dataDir } = service
    const mint = async (path: string): Promise<string> => {
      const res = await service.request(path, { method: 'POST', body: '{"label":"made-by-bootstrap"}' })
      expect(res.status).toBe(201)
      return (await res.json() as { secret: string }).secret
    }
    const child = await mint('/tokens')
    const forGus = await mint('/users/gus/tokens')
    await service.stop()
    const rotated = 'pinery_a-new-admin-token-after-a-leak'
    service = await startService({ dataDir, env: { PINERY_ADMIN_TOKEN: rotated } })
    try {
      const status = async (secret: string): Promise<number> =>
        (await service.request('/usage', { user: secret })).status
      expect(await status(ADMIN_TOKEN)).toBe(401)
      expect(await status(child)).toBe(401)
      expect(await status(rotated)).toBe(200)
      // Made for another user: that user's token, kept.
      expect(await status(forGus)).toBe(200)
    } finally {
      await service.destroy()
    }
  })
})
