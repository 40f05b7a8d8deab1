/**
 * `POST /session` had no rate limit. Now failed sign-ins are limited per client address (an IPv6 one by
 * its /64) and node-wide: 429 with a Failure body and Retry-After; successful sign-ins do not count; the
 * addresses remembered are bounded. Real HTTP from several loopback addresses (127.0.0.0/8 is all
 * loopback on Linux), and the limit itself for IPv6 and the bound (loopback has one IPv6 address).
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSignInLimit, SIGN_IN_LIMIT } from '../../src/http/sign-in-limit.js'
import { startService, type TestService } from '../fixtures/service.js'

interface Answer { status: number, retryAfter?: string, body: { error?: { reason: string, details: string } } }

/** Signs in to `svc` with `token` from the local address `from` (as a proxy would, with `forwardedFor`). */
async function signInFrom (svc: TestService, from: string, token: string, forwardedFor?: string): Promise<Answer> {
  const url = new URL(`${svc.url}/session`)
  const body = JSON.stringify({ token })
  return await new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      localAddress: from,
      agent: false,
      headers: {
        origin: svc.url,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(forwardedFor != null ? { 'x-forwarded-for': forwardedFor } : {})
      }
    }, res => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => {
        const retryAfter = res.headers['retry-after']
        const status = res.statusCode as number
        resolve({ status, ...(retryAfter != null ? { retryAfter } : {}), body: JSON.parse(text) })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const BAD = 'pinery_not-a-token-of-this-node'

describe('failed sign-ins, per address', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
  afterAll(async () => { await svc?.destroy() })

  it('does not count successful sign-ins', async () => {
    for (let i = 0; i < 30; i++) {
      expect((await signInFrom(svc, '127.0.0.1', svc.tokens.alice as string)).status).toBe(200)
    }
  })

  it('answers 429 with Retry-After and a Failure body after 10 failures, to that address only', async () => {
    const statuses = []
    for (let i = 0; i < 10; i++) statuses.push((await signInFrom(svc, '127.0.0.2', BAD)).status)
    expect(statuses).toEqual(Array(10).fill(401))
    const over = await signInFrom(svc, '127.0.0.2', BAD) // old code: 401, for ever
    expect(over.status).toBe(429)
    expect(Number(over.retryAfter)).toBeGreaterThanOrEqual(1)
    expect(over.body).toMatchObject({
      error: { reason: 'TOO_MANY_REQUESTS', details: expect.stringMatching(/failed sign-ins from this address/) }
    })
    // While over, the right token waits too (else guessing on would tell a hit from a miss).
    expect((await signInFrom(svc, '127.0.0.2', svc.tokens.alice as string)).status).toBe(429)
    // Another address has its own count.
    expect((await signInFrom(svc, '127.0.0.3', svc.tokens.alice as string)).status).toBe(200)
    expect((await signInFrom(svc, '127.0.0.3', BAD)).status).toBe(401)
  })

  it('counts attempts sent at once before any has failed', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, async () => await signInFrom(svc, '127.0.0.4', BAD)))
    const statuses = answers.map(a => a.status)
    expect(statuses.filter(s => s === 401).length).toBe(10)
    expect(statuses.filter(s => s === 429).length).toBe(30)
  })
})

describe('failed sign-ins behind a reverse proxy', () => {
  // 127.0.0.5 plays a proxy on the same machine (nginx's X-Forwarded-For: what came in, then the peer it saw).
  const PROXY = '127.0.0.5'
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'], env: { PINERY_TRUSTED_PROXIES: PROXY } }) })
  afterAll(async () => { await svc?.destroy() })

  it('counts each client the proxy names apart, and a client cannot name itself', async () => {
    for (let i = 0; i < 10; i++) expect((await signInFrom(svc, PROXY, BAD, '203.0.113.5')).status).toBe(401)
    expect((await signInFrom(svc, PROXY, BAD, '203.0.113.5')).status).toBe(429)
    // Someone else through the same proxy signs in (old code: 429, the whole proxy was one address).
    expect((await signInFrom(svc, PROXY, svc.tokens.alice as string, '198.51.100.7')).status).toBe(200)
    expect((await signInFrom(svc, PROXY, BAD, '198.51.100.7')).status).toBe(401)
    // The guesser adds an address of its own choosing: the one the proxy appended counts.
    expect((await signInFrom(svc, PROXY, BAD, '192.0.2.44, 203.0.113.5')).status).toBe(429)
  })

  it('reads entries a proxy wrote with a port', async () => {
    for (let i = 0; i < 10; i++) expect((await signInFrom(svc, PROXY, BAD, '203.0.113.9:51234')).status).toBe(401)
    expect((await signInFrom(svc, PROXY, BAD, '203.0.113.9:40000')).status).toBe(429)
    // Someone else through the same proxy (old code: 429, every entry with a port was the proxy's one address).
    expect((await signInFrom(svc, PROXY, svc.tokens.alice as string, '198.51.100.9:40001')).status).toBe(200)
    expect((await signInFrom(svc, PROXY, svc.tokens.alice as string, '[2001:db8::9]:40002')).status).toBe(200)
  })

  it('ignores the header from a peer that is not a trusted proxy', async () => {
    for (let i = 0; i < 10; i++) expect((await signInFrom(svc, '127.0.0.6', BAD, `192.0.2.${i}`)).status).toBe(401)
    expect((await signInFrom(svc, '127.0.0.6', svc.tokens.alice as string, '192.0.2.99')).status).toBe(429)
  })

  it('refuses a setting that is not an address or CIDR, naming it', async () => {
    await expect(startService({ env: { PINERY_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/33' } }))
      .rejects.toThrow(/PINERY_TRUSTED_PROXIES.*"10\.0\.0\.0\/33" is not an IP address or a CIDR/)
  })
})

describe('failed sign-ins, node-wide', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
  afterAll(async () => { await svc?.destroy() })

  it('has a ceiling that many addresses together cannot pass', async () => {
    const started = performance.now()
    const addresses = 200
    const answers = await Promise.all(Array.from({ length: addresses }, async (_, a) => {
      const out: Answer[] = []
      for (let i = 0; i < 10; i++) out.push(await signInFrom(svc, `127.0.${1 + (a >> 8)}.${(a & 255) + 1}`, BAD))
      return out
    }))
    const seconds = (performance.now() - started) / 1000
    const all = answers.flat()
    const failed = all.filter(a => a.status === 401).length
    // 2,000 attempts, 10 from each address: every one fails without the node-wide ceiling (old code: all 401).
    expect(failed).toBeLessThanOrEqual(SIGN_IN_LIMIT.global.burst + Math.ceil(seconds * SIGN_IN_LIMIT.global.perSecond))
    expect(all.filter(a => a.status === 429).length).toBe(all.length - failed)
    expect(failed).toBeLessThan(all.length)
    expect(all.find(a => a.status === 429)).toMatchObject({
      retryAfter: '1', body: { error: { reason: 'TOO_MANY_REQUESTS', details: expect.stringMatching(/on this node/) } }
    })
  })
})

describe('the limit itself', () => {
  it('counts an IPv6 client by its /64, and an IPv4-mapped one as the IPv4 address', () => {
    const limit = createSignInLimit()
    for (let i = 0; i < 10; i++) expect(limit.admit(`2001:db8:1:2:${i.toString(16)}::1`)).toBeUndefined()
    expect(limit.admit('2001:db8:1:2:ffff:ffff:ffff:ffff')).toMatchObject({ retryAfter: 6 })
    expect(limit.admit('2001:db8:1:3::1')).toBeUndefined()
    for (let i = 0; i < 10; i++) expect(limit.admit('::ffff:192.0.2.1')).toBeUndefined()
    expect(limit.admit('192.0.2.1')).toBeDefined()
  })

  it('remembers at most maxAddresses, however many addresses fail', () => {
    const limit = createSignInLimit({ ...SIGN_IN_LIMIT, global: { perSecond: 1e9, burst: 1e9 } })
    for (let i = 0; i < 3 * SIGN_IN_LIMIT.maxAddresses; i++) {
      expect(limit.admit(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)).toBeUndefined()
    }
    expect(limit.addresses).toBe(SIGN_IN_LIMIT.maxAddresses)
    // A sign-in that succeeds leaves nothing behind.
    const fresh = createSignInLimit()
    expect(fresh.admit('192.0.2.9')).toBeUndefined()
    fresh.giveBack('192.0.2.9')
    expect(fresh.addresses).toBe(0)
  })
})
