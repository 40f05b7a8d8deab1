/**
 * Every authenticated route × every scope × both ways of signing in (a bearer token, and the web
 * app's session cookie standing for it): a token below the route's level gets 403 FORBIDDEN naming
 * the level, one at or above it never does. The table is checked against the routes the source
 * declares, so a new route without a row fails here rather than shipping unchecked.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SCOPES } from '../../src/auth/index.js'
import { startService, type TestService } from '../fixtures/service.js'

type Scope = typeof SCOPES[number]
interface Row { method: string, pattern: string, path: string, need: Scope, body?: string }

const NO_PIN = '00000000-0000-4000-8000-000000000000'
const NO_HOOK = '00000000-0000-4000-8000-000000000000'
const json = (v: unknown): string => JSON.stringify(v)

// Bodies and targets are refused after the scope check (or harmless), so the matrix changes nothing.
const ROWS: Row[] = [
  { method: 'POST', pattern: '/pins', path: '/pins', need: 'pins:add', body: json({ cid: 'bafkqaaa' }) },
  { method: 'GET', pattern: '/pins', path: '/pins', need: 'pins:read' },
  { method: 'HEAD', pattern: '/pins', path: '/pins', need: 'pins:read' },
  { method: 'GET', pattern: '/pins/:requestid', path: `/pins/${NO_PIN}`, need: 'pins:read' },
  {
    method: 'POST', pattern: '/pins/:requestid', path: `/pins/${NO_PIN}`, need: 'pins:write',
    body: json({ cid: 'bafkqaaa' })
  },
  { method: 'DELETE', pattern: '/pins/:requestid', path: `/pins/${NO_PIN}`, need: 'pins:write' },
  { method: 'POST', pattern: '/content', path: '/content?name=matrix', need: 'pins:add', body: 'matrix' },
  { method: 'GET', pattern: '/ipfs/:cid{/*path}', path: '/ipfs/bafkqaaa', need: 'pins:read' },
  { method: 'HEAD', pattern: '/ipfs/:cid{/*path}', path: '/ipfs/bafkqaaa', need: 'pins:read' },
  { method: 'GET', pattern: '/events', path: '/events', need: 'pins:read' },
  { method: 'GET', pattern: '/usage', path: '/usage', need: 'pins:read' },
  { method: 'GET', pattern: '/session', path: '/session', need: 'pins:add' },
  { method: 'GET', pattern: '/tokens', path: '/tokens', need: 'pins:write' },
  { method: 'POST', pattern: '/tokens', path: '/tokens', need: 'pins:write', body: json({ scope: 'none' }) },
  { method: 'DELETE', pattern: '/tokens/:id', path: '/tokens/no-such-token', need: 'pins:write' },
  { method: 'GET', pattern: '/webhooks', path: '/webhooks', need: 'pins:write' },
  { method: 'POST', pattern: '/webhooks', path: '/webhooks', need: 'pins:write', body: json({ url: 'ftp://x' }) },
  { method: 'GET', pattern: '/webhooks/:id', path: `/webhooks/${NO_HOOK}`, need: 'pins:write' },
  {
    method: 'PATCH', pattern: '/webhooks/:id', path: `/webhooks/${NO_HOOK}`, need: 'pins:write',
    body: json({ enabled: true })
  },
  { method: 'DELETE', pattern: '/webhooks/:id', path: `/webhooks/${NO_HOOK}`, need: 'pins:write' },
  { method: 'POST', pattern: '/webhooks/:id/test', path: `/webhooks/${NO_HOOK}/test`, need: 'pins:write' },
  { method: 'GET', pattern: '/webhooks/:id/deliveries', path: `/webhooks/${NO_HOOK}/deliveries`, need: 'pins:write' },
  { method: 'GET', pattern: '/users', path: '/users', need: 'admin' },
  { method: 'POST', pattern: '/users', path: '/users', need: 'admin', body: json({ name: 'Not Valid' }) },
  { method: 'GET', pattern: '/users/:name', path: '/users/nobody', need: 'admin' },
  { method: 'PATCH', pattern: '/users/:name', path: '/users/nobody', need: 'admin', body: '{}' },
  { method: 'DELETE', pattern: '/users/:name', path: '/users/nobody', need: 'admin' },
  { method: 'GET', pattern: '/users/:name/tokens', path: '/users/nobody/tokens', need: 'admin' },
  { method: 'POST', pattern: '/users/:name/tokens', path: '/users/nobody/tokens', need: 'admin', body: '{}' },
  { method: 'DELETE', pattern: '/users/:name/tokens/:id', path: '/users/nobody/tokens/x', need: 'admin' },
  { method: 'GET', pattern: '/usage/all', path: '/usage/all', need: 'admin' },
  { method: 'GET', pattern: '/backup', path: '/backup', need: 'admin' }
]
// Answered before authentication: the operator's probes, the page itself, signing in and out.
const PUBLIC = new Set(['/health', '/metrics', '/', '/app/{*path}', '/session'])

let svc: TestService
const secrets: Partial<Record<Scope, string>> = {}

beforeAll(async () => {
  svc = await startService({ users: ['alice'] })
  for (const scope of SCOPES.slice(0, 3)) {
    const res = await svc.request('/tokens', { method: 'POST', user: 'alice', body: json({ label: scope, scope }) })
    expect(res.status).toBe(201)
    secrets[scope] = (await res.json() as { secret: string }).secret
  }
  secrets.admin = svc.tokens.admin
})
afterAll(async () => { await svc.destroy() })

/**
 * A fresh session cookie for `secret` (fresh: a DELETE /session row signs its session out), and the key its
 * sign-in gave, as the web app sends them.
 */
async function cookieFor (secret: string): Promise<{ cookie: string, 'pinery-session-key': string }> {
  const { cookie, key } = await svc.signIn(secret)
  return { cookie, 'pinery-session-key': key }
}

async function call (row: Row, scope: Scope, by: 'bearer' | 'cookie'): Promise<Response> {
  const secret = secrets[scope] as string
  const headers: Record<string, string> = { 'content-type': 'application/json', origin: svc.url }
  if (row.pattern === '/content') headers['content-type'] = 'text/plain'
  if (by === 'bearer') headers.authorization = `Bearer ${secret}`
  else Object.assign(headers, await cookieFor(secret))
  return await fetch(`${svc.url}${row.path}`,
    { method: row.method, headers, ...(row.body != null ? { body: row.body } : {}) })
}

describe('every route × every scope', () => {
  const matrix = ROWS.flatMap(row => SCOPES.flatMap(scope =>
    (['bearer', 'cookie'] as const).map(by => ({ ...row, scope, by, name: `${row.method} ${row.pattern}` }))))

  it.each(matrix)('$name with a $scope token ($by)', async (row) => {
    const res = await call(row, row.scope, row.by)
    try {
      if (SCOPES.indexOf(row.scope) >= SCOPES.indexOf(row.need)) {
        expect(res.status).not.toBe(403)
        expect(res.status).not.toBe(401)
        expect(res.status).toBeLessThan(500)
      } else {
        expect(res.status).toBe(403)
        if (row.method !== 'HEAD') {
          const failure = { error: { reason: 'FORBIDDEN', details: expect.stringContaining(row.need) } }
          expect(await res.json()).toEqual(failure)
        }
      }
    } finally {
      if (!res.bodyUsed) await res.body?.cancel() // GET /events is a stream that never ends
    }
  })

  it('has a row for every route the source declares', () => {
    const dir = join(import.meta.dirname, '../../src/http')
    const declared = new Set<string>()
    const route = /\b(?:router|app)\.(?:route|get|post|patch|put|delete|use)\(\s*(\[[^\]]*\]|'[^']*')/g
    for (const file of readdirSync(dir).filter(f => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(route)) {
        for (const p of (m[1] as string).matchAll(/'([^']*)'/g)) declared.add(p[1] as string)
      }
    }
    // The scope checks of app.ts name the same paths in Express's other spelling.
    declared.delete('/ipfs/{*path}')
    const covered = new Set([...ROWS.map(r => r.pattern), ...PUBLIC])
    expect([...declared].filter(p => !covered.has(p))).toEqual([])
    expect(declared.size).toBeGreaterThan(20)
  })
})
