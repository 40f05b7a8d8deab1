/**
 * Request-level protections: per-token rate limit, CORS, request ids in
 * logs, and no token secret in any log line.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

describe('per-token rate limit', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startService({ users: ['alice'], env: { PINERY_RATE_LIMIT: '2', PINERY_RATE_BURST: '5' } })
  })
  afterAll(async () => { await service.destroy() })

  it('answers 429 with Retry-After and a Failure body past the burst, for that token only', async () => {
    const statuses: number[] = []
    let limited: Response | undefined
    for (let i = 0; i < 8; i++) {
      const res = await service.request('/pins', { user: 'alice' })
      statuses.push(res.status)
      if (res.status === 429) limited = res
      else await res.text()
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200])
    expect(statuses.slice(5)).toContain(429)
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await limited?.json()).toMatchObject({
      error: { reason: 'TOO_MANY_REQUESTS', details: expect.stringMatching(/2 requests per second/) }
    })
    // Another device's token has its own bucket.
    expect((await service.request('/pins')).status).toBe(200)
  })
})

describe('CORS', () => {
  let service: TestService
  beforeAll(async () => { service = await startService({ env: { PINERY_CORS_ORIGINS: 'https://app.example' } }) })
  afterAll(async () => { await service.destroy() })

  it('answers an allowed origin\'s preflight without a token', async () => {
    const res = await service.request('/pins', {
      method: 'OPTIONS',
      user: null,
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type'
      }
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/)
  })

  it('lets an allowed origin use every method the API has, PATCH (users, webhooks) included', async () => {
    const res = await service.request('/webhooks/00000000-0000-4000-8000-000000000000', {
      method: 'OPTIONS',
      user: null,
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PATCH' }
    })
    expect(res.status).toBe(204)
    const allowed = (res.headers.get('access-control-allow-methods') ?? '').split(/,\s*/)
    expect(allowed).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']))
  })

  it('labels responses for an allowed origin and nothing for others', async () => {
    const ok = await service.request('/pins', { headers: { origin: 'https://app.example' } })
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const other = await service.request('/pins', { headers: { origin: 'https://evil.example' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('is off by default', async () => {
    const plain = await startService()
    try {
      const res = await plain.request('/pins', { headers: { origin: 'https://app.example' } })
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
    } finally {
      await plain.destroy()
    }
  })
})

describe('request logs', () => {
  const logs: string[] = []
  let service: TestService
  beforeAll(async () => { service = await startService({ users: ['alice'], logs }) })
  afterAll(async () => { await service.destroy() })

  it('tag each request with an id that is echoed back, and never show a token', async () => {
    const res = await service.request('/pins', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-42' },
      body: JSON.stringify({ cid: 'nope' })
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('x-request-id')).toBe('trace-42')
    const fresh = await service.request('/pins', { user: null })
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const lines = logs.map(l => JSON.parse(l) as Record<string, unknown>)
    expect(lines)
      .toContainEqual(expect.objectContaining({ reqId: 'trace-42', status: 400, method: 'POST', route: '/pins' }))
    expect(lines).toContainEqual(expect.objectContaining({ reqId: fresh.headers.get('x-request-id'), status: 401 }))
    for (const secret of Object.values(service.tokens)) expect(logs.join('\n')).not.toContain(secret)
  })

  it('never show the secrets of tokens created over HTTP, nor the hashes they are stored under', async () => {
    const json = { 'content-type': 'application/json' }
    const own = await (await service.request('/tokens',
      { method: 'POST', user: 'alice', headers: json, body: '{"label":"phone"}' })).json() as { secret: string }
    await service.request('/users', { method: 'POST', headers: json, body: '{"name":"bob"}' })
    const bobs = await (await service.request('/users/bob/tokens', { method: 'POST', headers: json, body: '{}' }))
      .json() as { secret: string }
    for (const secret of [own.secret, bobs.secret]) {
      expect((await service.request('/pins', { user: secret })).status).toBe(200)
      const hash = createHash('sha256').update(secret).digest('hex')
      expect(logs.join('\n')).not.toContain(secret)
      expect(logs.join('\n')).not.toContain(hash)
    }
    // Nor does any later response.
    const listed = await Promise.all(['/tokens', '/users/bob/tokens', '/users', '/usage/all']
      .map(async p => await (await service.request(p)).text()))
    for (const secret of [own.secret, bobs.secret]) expect(listed.join('\n')).not.toContain(secret)
  })
})
