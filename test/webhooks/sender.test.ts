/**
 * The delivery worker at its seam (sender.ts): what the outbox relies on
 * when the POSTs run in another thread. Deliveries are still signed, a
 * worker that ends fails its sends in flight (so the outbox retries them) and
 * the next send starts another that knows the targets again, the worker's
 * own target policy refuses loopback by name and by address, aborting ends
 * it for good, and the thread runs at the lowest CPU priority, also the
 * service's (its webhook POSTs take only core time pinning leaves idle). A
 * real receiver process on 127.0.0.1 receives.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createSender, DELIVERY_NICE, DELIVERY_THREAD, type Sender } from '../../src/webhooks/sender.js'
import { startReceiver, type Receiver, type ReceiverMode } from '../fixtures/receiver.js'
import { startService } from '../fixtures/service.js'
import { verify } from '../fixtures/webhook-checks.js'

const controllers: AbortController[] = []
const cleanup: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const c of controllers.splice(0)) c.abort()
  for (const f of cleanup.splice(0)) await f()
})

async function receiver (mode: ReceiverMode = 'ok'): Promise<Receiver> {
  const dir = await mkdtemp(join(tmpdir(), 'pinery-sender-'))
  const r = await startReceiver(join(dir, 'log'), mode)
  cleanup.push(async () => { await r.kill(); await rm(dir, { recursive: true, force: true }) })
  return r
}

function sender (allow: string[], c = new AbortController()): Sender {
  controllers.push(c)
  return createSender({ policy: { allow }, signal: c.signal })
}

const event = (id: number): { eventId: number, body: Uint8Array, timeoutMs: number } =>
  ({ eventId: id, body: Buffer.from(`{"id":"${id}"}`), timeoutMs: 5000 })

async function until (check: () => Promise<boolean>): Promise<void> {
  while (!await check()) await new Promise(resolve => setTimeout(resolve, 10))
}

/** The niceness of each of this process's threads named `name` (Linux). */
async function niceOf (name: string): Promise<number[]> {
  const found: number[] = []
  for (const tid of await readdir('/proc/self/task')) {
    try {
      if ((await readFile(`/proc/self/task/${tid}/comm`, 'utf8')).trim() !== name) continue
      found.push(Number((await readFile(`/proc/self/task/${tid}/stat`, 'utf8')).split(') ')[1]?.split(' ')[16]))
    } catch {} // a thread that ended meanwhile
  }
  return found
}

describe('the delivery worker', () => {
  it('signs in the worker; a worker that ends fails its sends in flight, and the next one delivers', async () => {
    const r = await receiver('hang')
    const s = sender(['127.0.0.1'])
    const a = s.target(r.url, 'whsec_a')
    const b = s.target(r.url, 'whsec_b')
    const held = [s.send(a, event(1)), s.send(b, event(1))]
    await until(async () => (await r.received()).length >= 2)
    await s.restart()
    const stopped = { ok: false, error: 'the delivery worker stopped' }
    for (const x of await Promise.all(held)) expect(x).toMatchObject(stopped)
    await r.setMode('ok')
    const results = await Promise.all([1, 2, 3].flatMap(id => [s.send(a, event(id)), s.send(b, event(id))]))
    for (const x of results) expect(x).toMatchObject({ ok: true, status: 200 })
    const got = (await r.received()).map(g => ({
      id: g.headers['pinery-event-id'] as string, signature: g.headers['pinery-signature'] as string, body: g.body
    }))
    expect(got).toHaveLength(8)
    for (const g of got) {
      expect(g.body).toBe(`{"id":"${g.id}"}`)
      expect(verify('whsec_a', g.signature, g.body) || verify('whsec_b', g.signature, g.body)).toBe(true)
    }
    expect(got.slice(2).filter(g => verify('whsec_a', g.signature, g.body)).map(g => g.id).sort())
      .toEqual(['1', '2', '3'])
  })

  it("applies the policy's checks in the worker: loopback refused by name and by address", async () => {
    const r = await receiver()
    const s = sender([])
    const byName = await s.send(s.target(`http://localhost:${r.port}/hook`, 'k'), event(1))
    expect(byName.ok).toBe(false)
    expect(byName.error).toMatch(/loopback/)
    const byAddress = await s.send(s.target(r.url, 'k'), event(2))
    expect(byAddress).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: .*loopback/) })
    expect(await r.received()).toHaveLength(0)
  })

  it('ends for good when its signal aborts: sends in flight and later ones are cancelled', async () => {
    const r = await receiver('hang')
    const c = new AbortController()
    const s = sender(['127.0.0.1'], c)
    const target = s.target(r.url, 'k')
    const inFlight = s.send(target, event(1))
    await until(async () => (await r.received()).length >= 1)
    c.abort()
    expect(await inFlight).toMatchObject({ ok: false, error: 'cancelled' })
    await s.stopped()
    expect(await s.send(target, event(2))).toMatchObject({ ok: false, error: 'cancelled' })
    expect(await r.received()).toHaveLength(1)
  })

  it.runIf(process.platform === 'linux')('runs its POSTs in a thread at the lowest CPU priority', async () => {
    const r = await receiver()
    const s = sender(['127.0.0.1'])
    expect(await s.send(s.target(r.url, 'k'), event(1))).toMatchObject({ ok: true, status: 200 })
    const nice = await niceOf(DELIVERY_THREAD)
    expect(nice.length).toBeGreaterThan(0)
    for (const n of nice) expect(n).toBe(DELIVERY_NICE)
  })
})

describe.runIf(process.platform === 'linux')('the service', () => {
  it("sends its webhook POSTs from a thread at the lowest CPU priority, not from the event loop's", async () => {
    const r = await receiver()
    const service = await startService({ env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
    cleanup.push(async () => { await service.destroy() })
    const hook = { url: r.url, events: ['pin.queued', 'pin.pinned'] }
    expect((await service.call('POST', '/webhooks', 'admin', hook)).status).toBe(201)
    expect((await service.call('POST', '/pins', 'admin', { cid: 'bafkqaaa' })).status).toBe(202)
    await until(async () => (await r.received()).length >= 1)
    // The thread's name as the process lists it (before this change there was none: the event loop sent).
    const nice = await niceOf('pinery-webhooks')
    expect(nice.length).toBeGreaterThan(0)
    for (const n of nice) expect(n).toBe(19)
  })
})
