/**
 * Webhook delivery against a real receiver process on 127.0.0.1 that answers
 * 200, then 500, then hangs, then is killed and comes back: every event of the
 * log reaches it, signed, in order per request, and any duplicate carries the
 * same Pinery-Event-Id and body.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startReceiver, type Receiver, type Received } from '../fixtures/receiver.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { checkDelivered, logOf, verify } from '../fixtures/webhook-checks.js'

const ALL_TYPES = [
  'pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted'
]
const json = { 'content-type': 'application/json' }

describe('webhook delivery', () => {
  let dir: string
  let origin: Origin
  let receiver: Receiver
  let service: TestService

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-webhooks-'))
    origin = await startOrigin()
    receiver = await startReceiver(join(dir, 'received.jsonl'))
    service = await startService({
      users: ['alice', 'bob'],
      env: {
        PINERY_WEBHOOK_ALLOW: '127.0.0.1',
        PINERY_WEBHOOK_TIMEOUT_MS: '500',
        PINERY_WEBHOOK_RETRY_MIN_MS: '50',
        PINERY_WEBHOOK_RETRY_MAX_MS: '400'
      }
    })
  })
  afterAll(async () => {
    await service?.destroy()
    await receiver?.kill()
    await origin?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('delivers every event through 200, 500, hangs and a receiver that goes away and comes back', async () => {
    const created = await service.request('/webhooks', {
      method: 'POST',
      user: 'alice',
      headers: json,
      body: JSON.stringify({ url: receiver.url, events: ALL_TYPES, description: 'ci' })
    })
    expect(created.status).toBe(201)
    const hook = await created.json() as { id: string, secret: string, enabled: boolean }
    expect(hook.secret).toMatch(/^whsec_/)
    const shown = await (await service.request(`/webhooks/${hook.id}`, { user: 'alice' })).json() as
      Record<string, unknown>
    expect(shown.secret).toBeUndefined()
    expect(shown).toMatchObject({ id: hook.id, url: receiver.url, enabled: true, description: 'ci' })

    // A node-wide webhook of the admin gets every user's events.
    const wide = await service.request('/webhooks', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ url: `${receiver.url}?all`, events: ['pin.pinned'], all: true })
    })
    expect(wide.status).toBe(201)

    const pin = async (body: object): Promise<string> => {
      const res = await service.request('/pins', {
        method: 'POST', user: 'alice', headers: json, body: JSON.stringify(body)
      })
      expect(res.status).toBe(202)
      return (await res.json() as { requestid: string }).requestid
    }
    const burst = async (n: number): Promise<string[]> => {
      const ids: string[] = []
      for (let i = 0; i < n; i++) {
        const file = await origin.addFile(new TextEncoder().encode(`file ${Math.random()} ${i}`.repeat(100)))
        ids.push(await pin(i % 3 === 0 ? { cid: 'bafkqaaa' } : { cid: file.toString(), origins: origin.addrs }))
      }
      return ids
    }

    const first = await burst(6)
    // Bob's events never reach Alice's webhook.
    await service.request('/pins', {
      method: 'POST', user: 'bob', headers: json, body: JSON.stringify({ cid: 'bafkqaaa' })
    })
    await waitFor(async () => (await receiver.received()).length >= 6 ? true : undefined)
    await receiver.setMode('fail')
    const replaced = await service.request(`/pins/${first[1] as string}`, {
      method: 'POST', user: 'alice', headers: json, body: JSON.stringify({ cid: 'bafkqaaa' })
    })
    expect(replaced.status).toBe(202)
    expect((await service.request(`/pins/${first[2] as string}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
    await burst(3)
    // Alice's webhook's own 500 (the node-wide one may get its 500 first, and the mode must not move on before).
    await waitFor(async () => (await receiver.received())
      .some(r => r.answer === 500 && r.path === '/hook') ? true : undefined)
    await receiver.setMode('hang')
    await burst(3)
    await waitFor(async () => (await receiver.received()).some(r => r.answer === 0) ? true : undefined)
    await receiver.kill()
    await burst(3)
    await new Promise(resolve => setTimeout(resolve, 700))
    await receiver.restart('ok')

    const events = (await logOf(service.url, service.tokens.alice as string))
    expect(events.length).toBeGreaterThan(15)
    expect(events.map(e => e.type))
      .toEqual(expect.arrayContaining(['pin.queued', 'pin.pinned', 'pin.replaced', 'pin.deleted']))
    await waitFor(async () => {
      const got = new Set((await receiver.received())
        .filter(r => r.answer === 200 && r.path === '/hook')
        .map(r => r.headers['pinery-event-id']))
      return events.every(e => got.has(e.id)) ? true : undefined
    }, 30_000, 'every event delivered')
    // Later events too (pins still settling while the receiver was away).
    const final = await logOf(service.url, service.tokens.alice as string)
    await waitFor(async () => {
      const got = new Set((await receiver.received())
        .filter(r => r.answer === 200 && r.path === '/hook')
        .map(r => r.headers['pinery-event-id']))
      return final.every(e => got.has(e.id)) ? true : undefined
    }, 30_000, 'every later event delivered')
    const all = await receiver.received()
    const received = all.filter(r => r.path === '/hook')
    checkDelivered(received, final, hook.secret)
    expect(received.some(r => JSON.parse(r.body).user === 'bob')).toBe(false)
    await waitFor(async () => (await receiver.received())
      .some(r => r.path === '/hook?all' && JSON.parse(r.body).user === 'bob' && r.answer === 200) ? true : undefined,
    20_000, 'node-wide delivery')
    expect(received.filter(r => r.answer === 500).length).toBeGreaterThan(0)

    const attempts = await (await service.request(`/webhooks/${hook.id}/deliveries`, { user: 'alice' })).json() as {
      count: number
      results: Array<{ status_code: number | null, error: string | null, event_id: string, latency_ms: number }>
    }
    expect(attempts.count).toBeLessThanOrEqual(100)
    expect(attempts.results.some(a => a.status_code === 200)).toBe(true)
    expect(attempts.results[0]).toHaveProperty('latency_ms')

    const test = await service.request(`/webhooks/${hook.id}/test`, { method: 'POST', user: 'alice' })
    expect(await test.json()).toMatchObject({ ok: true, status_code: 200 })
    const last = (await receiver.received()).filter(r => r.path === '/hook').at(-1) as Received
    expect(JSON.parse(last.body)).toMatchObject({ type: 'webhook.test' })
    expect(verify(hook.secret, last.headers['pinery-signature'] as string, last.body)).toBe(true)
  }, 120_000)

  it('disables a webhook failing for too long, with the reason, and delivers once re-enabled', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pinery-webhooks-disable-'))
    const failing = await startReceiver(join(dir, 'failing.jsonl'), 'fail')
    const s = await startService({
      dataDir,
      env: {
        PINERY_WEBHOOK_ALLOW: '127.0.0.1/8',
        PINERY_WEBHOOK_RETRY_MIN_MS: '50',
        PINERY_WEBHOOK_RETRY_MAX_MS: '100',
        PINERY_WEBHOOK_DISABLE_AFTER_MS: '1000'
      }
    })
    try {
      const created = await s.request('/webhooks', {
        method: 'POST', headers: json, body: JSON.stringify({ url: failing.url, events: ['pin.pinned'] })
      })
      const hook = await created.json() as { id: string, secret: string }
      await s.request('/pins', { method: 'POST', headers: json, body: JSON.stringify({ cid: 'bafkqaaa' }) })
      const disabled = await waitFor(async () => {
        const h = await (await s.request(`/webhooks/${hook.id}`)).json() as {
          enabled: boolean
          disabled_reason?: string
        }
        return h.enabled ? undefined : h
      }, 20_000, 'disabled')
      expect(disabled.disabled_reason).toMatch(/failed .* answered 500/)
      // Events while disabled are not queued for it; the waiting one is delivered once re-enabled.
      await failing.setMode('ok')
      const enabled = await s.request(`/webhooks/${hook.id}`, {
        method: 'PATCH', headers: json, body: JSON.stringify({ enabled: true })
      })
      expect(await enabled.json()).toMatchObject({ enabled: true })
      await waitFor(async () => (await failing.received()).some(r => r.answer === 200) ? true : undefined,
        10_000, 'delivered after re-enabling')
      const received = await failing.received()
      expect(new Set(received.map(r => r.headers['pinery-event-id'])).size).toBe(1)
      for (const r of received) expect(verify(hook.secret, r.headers['pinery-signature'] as string, r.body)).toBe(true)
    } finally {
      await s.destroy()
      await failing.kill()
    }
  }, 60_000)

  it('keeps what a lagging webhook still needs when the event log drops it, across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pinery-webhooks-prune-'))
    const lagging = await startReceiver(join(dir, 'lagging.jsonl'), 'fail')
    const env = {
      PINERY_WEBHOOK_ALLOW: '127.0.0.1',
      PINERY_WEBHOOK_RETRY_MIN_MS: '200',
      PINERY_WEBHOOK_RETRY_MAX_MS: '400',
      PINERY_EVENT_LOG_MAX_EVENTS: '100'
    }
    let s = await startService({ dataDir, env })
    try {
      const created = await s.request('/webhooks', {
        method: 'POST', headers: json, body: JSON.stringify({ url: lagging.url, events: ['pin.pinned'] })
      })
      const hook = await created.json() as { id: string, secret: string }
      const ids: string[] = []
      for (let i = 0; i < 300; i++) {
        const res = await s.request('/pins', {
          method: 'POST', headers: json, body: JSON.stringify({ cid: 'bafkqaaa', name: `n${i}` })
        })
        ids.push((await res.json() as { requestid: string }).requestid)
      }
      // The log dropped the first events while the webhook could not take them.
      await waitFor(async () => (await s.request('/events?after=1')).status === 410 ? true : undefined,
        10_000, 'the log pruned')
      await s.stop()
      s = await startService({ dataDir, env })
      // The failed attempts before the restart are still listed.
      const before = await (await s.request(`/webhooks/${hook.id}/deliveries`)).json() as {
        count: number
        results: Array<{ status_code: number }>
      }
      expect(before.count).toBeGreaterThan(0)
      expect(before.results[0]?.status_code).toBe(500)
      await lagging.setMode('ok')
      await waitFor(async () => {
        const got = new Set((await lagging.received())
          .filter(r => r.answer === 200)
          .map(r => (JSON.parse(r.body) as { pin: { requestid: string } }).pin.requestid))
        return ids.every(id => got.has(id)) ? true : undefined
      }, 30_000, 'every event delivered')
      for (const r of await lagging.received()) {
        expect(verify(hook.secret, r.headers['pinery-signature'] as string, r.body)).toBe(true)
        expect((JSON.parse(r.body) as { id: string }).id).toBe(r.headers['pinery-event-id'])
      }
    } finally {
      await s.destroy()
      await lagging.kill()
    }
  }, 60_000)
})
