/**
 * The event log as the outbox, across kill -9: a webhook's cursor moves at
 * most once a second and failed deliveries are parked, so a SIGKILL while a
 * receiver fails (parked entries, unparked events after the cursor) and right
 * after a webhook is added (its cursor written before it is answered) loses
 * nothing: after a restart every event reaches both webhooks, signed, in
 * order per request, duplicates identical.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverEnv, startServerProcess } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'
import { checkDelivered, logOf } from '../fixtures/webhook-checks.js'
import { waitFor } from '../fixtures/service.js'

const TOKEN = 'pinery_webhook-cursor-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
const ALL = ['pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted']

describe('webhook cursors across SIGKILL', () => {
  let dir: string
  let failing: Receiver
  let late: Receiver

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-webhook-cursor-'))
    failing = await startReceiver(join(dir, 'failing.jsonl'), 'fail')
    late = await startReceiver(join(dir, 'late.jsonl'))
  })
  afterAll(async () => {
    await failing?.kill()
    await late?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('loses no event of a failing webhook nor of one added just before the kill', async () => {
    const env = {
      ...serverEnv(join(dir, 'data'), TOKEN),
      PINERY_WEBHOOK_ALLOW: '127.0.0.1',
      PINERY_WEBHOOK_RETRY_MIN_MS: '100',
      PINERY_WEBHOOK_RETRY_MAX_MS: '300'
    }
    const add = async (url: string, receiver: Receiver): Promise<string> => {
      const res = await fetch(`${url}/webhooks`, {
        method: 'POST', headers, body: JSON.stringify({ url: receiver.url, events: ALL, all: true })
      })
      expect(res.status).toBe(201)
      return (await res.json() as { secret: string }).secret
    }
    const afterLate = new Set<string>()
    const pin = async (url: string, i: number): Promise<string> => {
      const res = await fetch(`${url}/pins`, {
        method: 'POST', headers, body: JSON.stringify({ cid: 'bafkqaaa', name: `p${i}` })
      })
      expect(res.status).toBe(202)
      return (await res.json() as { requestid: string }).requestid
    }
    let server = await startServerProcess(env)
    let lateSecret = ''
    const failingSecret = await add(server.url, failing)
    try {
      for (let i = 0; i < 30; i++) await pin(server.url, i)
      await waitFor(async () => (await failing.received()).filter(r => r.answer === 500).length >= 5 ? true : undefined,
        10_000, 'failures')
      lateSecret = await add(server.url, late)
      await Promise.all(Array.from({ length: 20 }, async (_, i) => { afterLate.add(await pin(server.url, 30 + i)) }))
    } finally {
      server.child.kill('SIGKILL')
      await once(server.child, 'exit')
    }
    await failing.setMode('ok')
    server = await startServerProcess(env)
    try {
      const events = await waitFor(async () => {
        const log = await logOf(server.url, TOKEN, '&all=true')
        return log.filter(e => e.type === 'pin.pinned').length === 50 ? log : undefined
      }, 20_000, 'every pin pinned')
      const lateEvents = events.filter(e => afterLate.has(e.pin.requestid))
      expect(lateEvents.length).toBeGreaterThanOrEqual(20)
      const checks = [[failing, failingSecret, events], [late, lateSecret, lateEvents]] as const
      for (const [receiver, secret, wanted] of checks) {
        await waitFor(async () => {
          const got = new Set((await receiver.received())
            .filter(r => r.answer === 200)
            .map(r => r.headers['pinery-event-id']))
          return wanted.every(e => got.has(e.id)) ? true : undefined
        }, 30_000, 'every event delivered')
        checkDelivered(await receiver.received(), wanted, secret)
      }
    } finally {
      await server.stop()
    }
  }, 120_000)
})
