/**
 * A webhook's last 100 attempts, as GET /webhooks/{id}/deliveries lists them:
 * recorded in memory without a write per attempt, newest first, at most 100,
 * and the same list after the store is closed and opened again (real LevelDB).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { createWebhookStore, KEPT_ATTEMPTS } from '../../src/webhooks/webhook-store.js'

const dirs: string[] = []
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

describe('webhook attempts', () => {
  it('lists the last 100, newest first, also after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pinery-attempts-'))
    dirs.push(dir)
    const open = async (): Promise<Level<string, Uint8Array>> => {
      const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
      await db.open()
      return db
    }
    let db = await open()
    let store = await createWebhookStore({ db })
    const hook = await store.create({
      owner: 'alice', all: false, url: 'https://example.com/h', events: ['pin.pinned'], description: ''
    })
    const t0 = Date.parse('2026-11-30T10:00:00.000Z')
    for (let i = 1; i <= 350; i++) {
      store.recordAttempt(hook.id, t0 + i, {
        event_id: String(i),
        status_code: i % 10 === 0 ? 500 : 200,
        latency_ms: i % 7,
        error: i % 10 === 0 ? 'answered 500' : null
      })
    }
    const listed = await store.attempts(hook.id)
    expect(listed).toHaveLength(KEPT_ATTEMPTS)
    expect(listed[0]).toEqual({
      time: '2026-11-30T10:00:00.350Z', event_id: '350', status_code: 500, latency_ms: 0, error: 'answered 500'
    })
    expect(listed.map(a => a.event_id)).toEqual(Array.from({ length: 100 }, (_, i) => String(350 - i)))
    await store.stop()
    await db.close()

    db = await open()
    store = await createWebhookStore({ db })
    expect(await store.attempts(hook.id)).toEqual(listed)
    store.recordAttempt(hook.id, t0 + 351, { event_id: '351', status_code: 200, latency_ms: 1, error: null })
    const after = await store.attempts(hook.id)
    expect(after).toHaveLength(KEPT_ATTEMPTS)
    expect(after.map(a => a.event_id).slice(0, 2)).toEqual(['351', '350'])
    expect(after.at(-1)?.event_id).toBe('252')
    await store.stop()
    await db.close()
  })
})
