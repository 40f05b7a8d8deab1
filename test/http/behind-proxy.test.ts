/**
 * Pinery behind a real reverse proxy process (test/fixtures/reverse-proxy.mjs on 127.0.0.1, its upstream
 * connections from 127.0.0.7, named in PINERY_TRUSTED_PROXIES). One client holding event streams open
 * through the proxy used to use up the proxy's per-address share of connections: every other client's
 * request then got the proxy's 502, and the request log named no one. Now the proxy's connections count
 * toward the whole cap only, each client's requests through it are capped by the client's own address,
 * and the log line names the client.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, until, waitFor, type TestService } from '../fixtures/service.js'

const PROXY_FROM = '127.0.0.7'
const PER_ADDRESS = 4
const PROXY = fileURLToPath(new URL('../fixtures/reverse-proxy.mjs', import.meta.url))

let svc: TestService
let proxy: ChildProcess
let proxyPort: number
const logs: string[] = []

beforeAll(async () => {
  svc = await startService({
    logs,
    logLevel: 'info',
    env: { PINERY_TRUSTED_PROXIES: PROXY_FROM, PINERY_MAX_HTTP_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS) }
  })
  proxy = spawn(process.execPath, [PROXY, svc.url, PROXY_FROM], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(proxy.stdout as NodeJS.ReadableStream, 'data') as [Buffer]
  proxyPort = Number(line.toString().trim())
})

afterAll(async () => {
  proxy?.kill()
  await svc?.destroy()
})

/** A GET through the proxy from client address `from`: resolves once the answer's head arrives. */
async function get (from: string, path: string, id: string): Promise<IncomingMessage> {
  return await new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: proxyPort,
      path,
      localAddress: from,
      agent: false,
      headers: { authorization: `Bearer ${svc.tokens.admin as string}`, 'x-request-id': id }
    }, resolve)
    req.on('error', reject)
    req.end()
  })
}

describe('behind a trusted reverse proxy', () => {
  it('caps each client by its own address, not everyone by the proxy\'s', async () => {
    // The hog holds its share of open requests (event streams stay open).
    const streams = await Promise.all(Array.from({ length: PER_ADDRESS },
      async (_, i) => await get('127.0.0.2', '/events', `hog-${i}`)))
    expect(streams.map(s => s.statusCode)).toEqual(Array(PER_ADDRESS).fill(200))
    // One more from it is refused by its own cap...
    const refused = await get('127.0.0.2', '/pins', 'hog-more')
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    let body = ''
    for await (const chunk of refused) body += String(chunk)
    expect(JSON.parse(body)).toMatchObject({ error: { reason: 'TOO_MANY_REQUESTS' } })
    // ...while everyone else behind the proxy is served (old code: the proxy's 502, its connection refused).
    for (let i = 0; i < 3; i++) {
      const other = await get(`127.0.0.${3 + i}`, '/pins', `other-${i}`)
      expect(other.statusCode).toBe(200)
      other.resume()
    }
    // A stream ended frees its slot.
    streams[0]?.destroy()
    await waitFor(async () => {
      const again = await get('127.0.0.2', '/pins', 'hog-again')
      again.resume()
      return again.statusCode === 200 ? true : undefined
    }, 10_000, 'the hog\'s slot freed')
    for (const s of streams) s.destroy()
  })

  it('names the client in the request log, not the proxy', async () => {
    const answer = await get('127.0.0.9', '/pins/nope', 'named-client')
    expect(answer.statusCode).toBe(404)
    answer.resume()
    const line = await until(() => logs.map(l => JSON.parse(l) as Record<string, unknown>)
      .find(l => l.reqId === 'named-client' && l.msg === 'request'), 'the request\'s log line')
    expect(line.client).toBe('127.0.0.9')
    const refusal = logs.map(l => JSON.parse(l) as Record<string, unknown>).find(l => l.reqId === 'hog-more')
    expect(refusal).toMatchObject({ status: 429, client: '127.0.0.2' })
  })
})
