/**
 * The delivery worker at its seam (sender.ts): what the outbox relies on
 * when the POSTs run in another thread. Deliveries are still signed, a
 * worker that ends fails its sends in flight (so the outbox retries them) and
 * the next send starts another that knows the targets again, the worker's
 * own target policy refuses loopback by name and by address, and aborting
 * ends it for good. A real HTTP server on 127.0.0.1 receives.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createSender, type Sender } from '../../src/webhooks/sender.js'
import { verify } from '../fixtures/webhook-checks.js'

interface Got { id: string, signature: string, body: string }
const servers: Server[] = []
const controllers: AbortController[] = []

afterEach(async () => {
  for (const c of controllers.splice(0)) c.abort()
  for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise(resolve => { s.close(resolve) }) }
})

/** A receiver recording each request; `hold` keeps answers back while it returns true. */
async function receiver (hold: () => boolean = () => false): Promise<{ port: number, got: Got[] }> {
  const got: Got[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      got.push({ id: req.headers['pinery-event-id'] as string, signature: req.headers['pinery-signature'] as string, body })
      if (!hold()) res.end('ok')
    })
  })
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as AddressInfo).port, got }
}

function sender (allow: string[]): Sender {
  const c = new AbortController()
  controllers.push(c)
  return createSender({ policy: { allow }, signal: c.signal })
}

const event = (id: number): { eventId: number, body: Uint8Array, timeoutMs: number } =>
  ({ eventId: id, body: Buffer.from(`{"id":"${id}"}`), timeoutMs: 5000 })

describe('the delivery worker', () => {
  it('signs in the worker; a worker that ends fails its sends in flight, and the next one delivers', async () => {
    let holding = true
    const { port, got } = await receiver(() => holding)
    const s = sender(['127.0.0.1'])
    const a = s.target(`http://127.0.0.1:${port}/hook`, 'whsec_a')
    const b = s.target(`http://127.0.0.1:${port}/hook`, 'whsec_b')
    const held = [s.send(a, event(1)), s.send(b, event(1))]
    while (got.length < 2) await new Promise(resolve => setTimeout(resolve, 10))
    await s.restart()
    for (const r of await Promise.all(held)) expect(r).toMatchObject({ ok: false, error: 'the delivery worker stopped' })
    holding = false
    const results = await Promise.all([1, 2, 3].flatMap(id => [s.send(a, event(id)), s.send(b, event(id))]))
    for (const r of results) expect(r).toMatchObject({ ok: true, status: 200 })
    expect(got).toHaveLength(8)
    for (const g of got) {
      expect(g.body).toBe(`{"id":"${g.id}"}`)
      expect(verify('whsec_a', g.signature, g.body) || verify('whsec_b', g.signature, g.body)).toBe(true)
    }
    expect(got.slice(2).filter(g => verify('whsec_a', g.signature, g.body)).map(g => g.id).sort()).toEqual(['1', '2', '3'])
  })

  it("applies the policy's checks in the worker: loopback refused by name and by address", async () => {
    const { port, got } = await receiver()
    const s = sender([])
    const byName = await s.send(s.target(`http://localhost:${port}/hook`, 'k'), event(1))
    expect(byName.ok).toBe(false)
    expect(byName.error).toMatch(/loopback/)
    const byAddress = await s.send(s.target(`http://127.0.0.1:${port}/hook`, 'k'), event(2))
    expect(byAddress).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: .*loopback/) })
    expect(got).toHaveLength(0)
  })

  it('ends for good when its signal aborts: sends in flight and later ones are cancelled', async () => {
    const { port, got } = await receiver(() => true)
    const c = new AbortController()
    const s = createSender({ policy: { allow: ['127.0.0.1'] }, signal: c.signal })
    const target = s.target(`http://127.0.0.1:${port}/hook`, 'k')
    const inFlight = s.send(target, event(1))
    while (got.length < 1) await new Promise(resolve => setTimeout(resolve, 10))
    c.abort()
    expect(await inFlight).toMatchObject({ ok: false, error: 'cancelled' })
    await s.stopped()
    expect(await s.send(target, event(2))).toMatchObject({ ok: false, error: 'cancelled' })
    expect(got).toHaveLength(1)
  })
})
