/**
 * `X-Content-Type-Options: nosniff` on every answer, not only the gateway's and the page's: the API's
 * JSON (its Failure bodies quote what the client sent), 404s, 405s, body-parser refusals, preflights,
 * /health and /metrics, and the answers Node's parser gives before Express sees a request.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

let svc: TestService
beforeAll(async () => {
  svc = await startService({ users: ['alice'], env: { PINERY_CORS_ORIGINS: 'https://app.example' } })
})
afterAll(async () => { await svc?.destroy() })

/** The raw answer to `request` written on a fresh connection. */
async function raw (request: string): Promise<string> {
  const url = new URL(svc.url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => { socket.write(request) })
    let text = ''
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1') })
    socket.on('end', () => { resolve(text) })
    socket.on('error', reject)
  })
}

describe('X-Content-Type-Options: nosniff', () => {
  it('is on every answer of the API, errors and answers without credentials included', async () => {
    const json = { 'content-type': 'application/json' }
    const cases: Array<[string, string, RequestInit & { user?: string | null }]> = [
      ['200 JSON', '/pins', { user: 'alice' }],
      ['401', '/pins?name=%3Chtml%3E', { user: null }],
      ['401 bad token', '/session', { user: 'nobody' }],
      ['400', '/pins', { method: 'POST', user: 'alice', headers: json, body: '{"cid":"<script>"}' }],
      ['400 parser', '/pins', { method: 'POST', user: 'alice', headers: json, body: '{' }],
      ['404', '/%3Cscript%3E', { user: 'alice' }],
      ['405', '/ipfs/bafkqaaa', { method: 'PUT', user: 'alice' }],
      ['403 sign-in', '/session', { method: 'POST', user: null, headers: json, body: '{}' }],
      ['health', '/health', { user: null }],
      ['metrics', '/metrics', { user: null }],
      ['page', '/', { user: null }],
      ['preflight', '/pins', {
        method: 'OPTIONS', user: null, headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' }
      }]
    ]
    for (const [what, path, init] of cases) {
      const res = await svc.request(path, init)
      await res.arrayBuffer()
      expect(res.headers.get('x-content-type-options'), `${what}: ${res.status}`).toBe('nosniff')
    }
  })

  it('is on the answers Node\'s parser gives to what is not HTTP', async () => {
    const answer = await raw('GET /pins HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i)
  })
})
