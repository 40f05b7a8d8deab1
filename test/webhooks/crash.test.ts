/**
 * At least once across kill -9: Pinery runs as a child process under a burst
 * of creates, replaces and deletes (some fetching DAGs from an origin peer)
 * with a node-wide webhook to a receiver process, and is SIGKILLed mid-burst,
 * round after round. Afterwards every acknowledged change has its event in
 * the log, every event of the log reached the receiver (signed, duplicates
 * identical, per-request order kept), and everything the receiver got is in
 * the log as it was sent.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'
import { checkDelivered, logOf } from '../fixtures/webhook-checks.js'
import { waitFor } from '../fixtures/service.js'

const TOKEN = 'pinery_webhook-crash-admin-token'
const ROUNDS = 5
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

describe('webhooks across SIGKILL', () => {
  let dir: string
  let origin: Origin
  let receiver: Receiver
  const cids: string[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-webhook-crash-'))
    origin = await startOrigin()
    receiver = await startReceiver(join(dir, 'received.jsonl'))
    for (let i = 0; i < 8; i++) {
      cids.push((await origin.addFile(new Uint8Array(300 * 1024 * (1 + i % 3)).fill(i + 1))).toString())
    }
  })
  afterAll(async () => {
    await receiver?.kill()
    await origin?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it(`loses no event across ${ROUNDS} SIGKILLs mid-burst`, async () => {
    const env = {
      ...serverEnv(join(dir, 'data'), TOKEN),
      PINERY_WEBHOOK_ALLOW: '127.0.0.1',
      PINERY_WEBHOOK_RETRY_MIN_MS: '50',
      PINERY_WEBHOOK_RETRY_MAX_MS: '300'
    }
    const created = new Set<string>() // acknowledged creates (POST /pins and replacements)
    const deleted = new Set<string>() // acknowledged deletions
    const replaced = new Set<string>() // acknowledged replacements (the old request)
    let secret = ''
    const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)] as T
    const body = (): string =>
      JSON.stringify(Math.random() < 0.6 ? { cid: pick(cids), origins: origin.addrs } : { cid: 'bafkqaaa' })

    for (let round = 0; round < ROUNDS; round++) {
      const server: ServerProcess = await startServerProcess(env)
      if (round === 0) {
        const everyType = [
          'pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted'
        ]
        const res = await fetch(`${server.url}/webhooks`, {
          method: 'POST', headers, body: JSON.stringify({ url: receiver.url, events: everyType, all: true })
        })
        expect(res.status).toBe(201)
        secret = (await res.json() as { secret: string }).secret
      }
      let killed = false
      const live = (): string[] => [...created].filter(id => !deleted.has(id) && !replaced.has(id))
      const worker = async (): Promise<void> => {
        while (!killed) {
          const op = Math.random()
          const target = live().length > 0 ? pick(live()) : undefined
          try {
            if (op < 0.6 || target == null) {
              const res = await fetch(`${server.url}/pins`, { method: 'POST', headers, body: body() })
              if (res.status === 202) created.add((await res.json() as { requestid: string }).requestid)
            } else if (op < 0.8) {
              const res = await fetch(`${server.url}/pins/${target}`, { method: 'POST', headers, body: body() })
              if (res.status === 202) {
                replaced.add(target)
                created.add((await res.json() as { requestid: string }).requestid)
              }
            } else {
              const res = await fetch(`${server.url}/pins/${target}`, { method: 'DELETE', headers })
              if (res.status === 202) deleted.add(target)
            }
          } catch {
            // Cut short by the kill: its outcome is unknown, and that is allowed.
          }
        }
      }
      const workers = [worker(), worker(), worker()]
      await new Promise(resolve => setTimeout(resolve, 300 + Math.random() * 1200))
      killed = true
      server.child.kill('SIGKILL')
      await once(server.child, 'exit')
      await Promise.all(workers)
    }

    const server = await startServerProcess(env)
    try {
      expect(created.size).toBeGreaterThan(20)
      // Let pending pins settle, then read the whole log.
      await waitFor(async () => {
        const res = await fetch(`${server.url}/pins?status=queued,pinning&limit=1`, { headers })
        return (await res.json() as { count: number }).count === 0 ? true : undefined
      }, 60_000, 'pending pins settled')
      const events = await logOf(server.url, TOKEN, '&all=true')
      const kinds = (id: string): string[] => events.filter(e => e.pin.requestid === id).map(e => e.type)
      const read = `${events.length} events read, the newest ${events.at(-1)?.id ?? 'none'}`
      for (const id of created) {
        expect(kinds(id).some(k => k === 'pin.queued' || k === 'pin.pinned'), `creation of ${id} (${read})`).toBe(true)
      }
      for (const id of deleted) expect(kinds(id), `deletion of ${id}`).toContain('pin.deleted')
      for (const id of replaced) expect(kinds(id), `replacement of ${id}`).toContain('pin.replaced')
      await waitFor(async () => {
        const got = new Set((await receiver.received())
          .filter(r => r.answer === 200)
          .map(r => r.headers['pinery-event-id']))
        return events.every(e => got.has(e.id)) ? true : undefined
      }, 60_000, 'every event delivered')
      const received = await receiver.received()
      checkDelivered(received, events, secret)
      // Nothing was delivered that the log does not hold as it was sent.
      const bodies = new Map(events.map(e => [e.id, e]))
      for (const r of received) {
        expect(JSON.parse(r.body), `event ${r.headers['pinery-event-id']} is in the log`)
          .toEqual(bodies.get(JSON.parse(r.body).id))
      }
    } finally {
      await server.stop()
    }
  }, 240_000)
})
