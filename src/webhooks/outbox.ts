/**
 * The outbox and its deliverer. The event log is the outbox: each webhook
 * has a durable cursor, and every event after it that the webhook wants is
 * still to be delivered. The change's batch carries only the event; nothing
 * is written per delivery that succeeds at its first attempt.
 *
 *   /pinery/wh-cur/<webhook>                  → the cursor (an event id, decimal)
 *   /pinery/wh-out/<webhook>/<id, 16 digits>  → a parked entry: "<attempts> <next attempt ms> <requestid>\n<body>"
 *
 * Every wanted event up to the cursor is delivered or parked. An entry is
 * parked when an attempt fails (with its attempts and next attempt, so
 * retries survive restarts) or when the log is about to drop an event the
 * webhook has not had yet; a parked entry is deleted once delivered. The
 * cursor moves in a write at most once a second: a crash repeats at most the
 * last second's deliveries, with the same Pinery-Event-Id (at least once).
 *
 * A webhook's deliveries run a few at a time, but never two of one request
 * at once nor out of order. A webhook failing for longer than
 * `disableAfterMs` is disabled with the reason; its waiting entries wait for
 * it to be re-enabled, and events while it is disabled are not kept for it.
 * Each webhook holds a bounded window of entries in memory and reads the rest
 * (parked entries and the log, in id order) as it drains.
 */
import { deliver } from './deliver.js'
import { CURSOR, decodeEntry, encodeEntry, entryOf, indexOf, matches, PREFIX, pad } from './outbox-entries.js'
import type { Entry } from './outbox-entries.js'
import { newLane, put, safeCursor, type Lane } from './lane.js'
import { createWriteBatcher } from './write-batcher.js'
import type { TargetPolicy } from './target-policy.js'
import type { WebhookStore, Webhook } from './webhook-store.js'
import type { EventLog, LoggedEvent } from '../events/event-log.js'
import type { PinEvent } from '../events/index.js'
import type { Logger } from '../logger.js'
import type { ExtraOp } from '../pins/record-store.js'
import type { Level } from 'level'

/** Settings of delivery. */
export interface OutboxInit {
  /** One attempt may take this long. */
  timeoutMs: number
  /** First retry after about this long; each later one waits twice as long… */
  retryMinMs: number
  /** …up to this long. */
  retryMaxMs: number
  /** A webhook whose deliveries fail for this long is disabled. */
  disableAfterMs: number
  /** Deliveries in flight per webhook (never two of one request). */
  concurrency?: number
  /** Deliveries that become due are gathered this long, then sent together (pipelined on one connection). */
  gatherMs?: number
  /** Entries held in memory per webhook. */
  window?: number
  /** How often moved cursors are written. */
  cursorFlushMs?: number
}

/** What the outbox needs. */
export interface OutboxComponents {
  db: Level<string, Uint8Array>
  store: Pick<WebhookStore, 'all' | 'get' | 'update' | 'recordAttempt'>
  events: Pick<EventLog, 'subscribe' | 'get' | 'read' | 'published'>
  policy: Pick<TargetPolicy, 'lookup' | 'refusal'>
  logger: Logger
}

/** Queues and delivers webhook events. */
export interface Outbox {
  /** Loads every webhook's cursor and parked entries and starts delivering. */
  start(): Promise<void>
  /** A new webhook: it gets the events from now on (its cursor is written before this resolves). */
  add(id: string): Promise<void>
  /** Retries a webhook's waiting entries now (it was re-enabled). */
  wake(id: string): void
  /** Parks a webhook's waiting entries (it was disabled): they wait for it, also across a restart. */
  hold(id: string): Promise<void>
  /** Parks what webhooks still need of the events the log is about to drop (id → JSON, up to `upTo`). */
  beforePrune(upTo: number, bodies: Map<number, string>): Promise<void>
  /** Forgets a removed webhook's cursor and entries. */
  drop(id: string): Promise<void>
  /** Entries waiting for a webhook (in memory, and whether more wait in LevelDB). */
  waiting(id: string): { count: number, more: boolean }
  stop(): Promise<void>
}

/** Creates the outbox (not started). */
export function createOutbox (init: OutboxInit, components: OutboxComponents): Outbox {
  const { db, store, events } = components
  const log = components.logger.child({ component: 'webhooks' })
  const concurrency = init.concurrency ?? 32
  const gatherMs = init.gatherMs ?? 20
  const window = init.window ?? 5000
  const lanes = new Map<string, Lane>()
  const batcher = createWriteBatcher(db)
  const running = new Set<Promise<void>>()
  const stopping = new AbortController()
  let unsubscribe: (() => void) | undefined
  let cursorTimer: NodeJS.Timeout | undefined
  const encoder = new TextEncoder()

  async function flushCursors (): Promise<void> {
    const moved = [...lanes.values()].map(lane => ({ lane, at: safeCursor(lane) })).filter(m => m.at > m.lane.cursor)
    if (moved.length === 0) return
    await batcher.write(moved.map(m => ({ type: 'put', key: CURSOR + m.lane.id, value: encoder.encode(String(m.at)) })))
    for (const m of moved) m.lane.cursor = Math.max(m.lane.cursor, m.at)
  }

  /** Reads the next window's worth of parked entries and log events, in id order. */
  function refill (lane: Lane): void {
    if (lane.refilling) return
    lane.refilling = true
    lane.op = lane.op.then(async () => {
      const hook = store.get(lane.id)
      const limit = Math.max(1, window - lane.queue.length)
      const prefix = `${PREFIX}${lane.id}/`
      const parked: Entry[] = []
      for await (const [key, value] of db.iterator({ gt: prefix + pad(lane.parkedPos), lt: `${prefix}\xff`, limit })) {
        parked.push(decodeEntry(key, value))
      }
      const upTo = events.published()
      const logged: LoggedEvent[] = []
      if (lane.logPos < upTo) {
        for await (const e of events.read(lane.logPos, upTo)) if (logged.push(e) >= limit) break
      }
      // Everything up to `x` of both is in hand; beyond it, neither is read yet.
      let x = upTo
      if (parked.length >= limit) x = Math.min(x, (parked.at(-1) as Entry).id)
      if (logged.length >= limit) x = Math.min(x, (logged.at(-1) as LoggedEvent).id)
      for (const entry of parked) {
        if (entry.id > x) break
        if (entry.body === '') {
          // Written by an older version, which left the body to the log.
          const body = await events.get(entry.id)
          if (body == null) {
            log.error({ webhook: lane.id, event: entry.id }, 'a parked entry lost its event')
            continue
          }
          entry.body = body
        }
        put(lane, entry)
      }
      for (const e of logged) if (e.id <= x && hook != null && matches(hook, e)) put(lane, entryOf(lane.id, e))
      lane.parkedPos = Math.max(lane.parkedPos, x)
      lane.logPos = Math.max(lane.logPos, x)
      if (x >= events.published()) lane.behind = false
    }).catch((err) => { log.warn({ err, webhook: lane.id }, 'cannot read the outbox') }).finally(() => {
      lane.refilling = false
      if (lanes.get(lane.id) === lane) pump(lane)
    })
  }

  function arm (lane: Lane, at: number): void {
    clearTimeout(lane.timer)
    lane.timer = setTimeout(() => { pump(lane) }, Math.max(0, at - Date.now()))
    lane.timer.unref()
  }

  function backoff (failures: number): number {
    const base = Math.min(init.retryMaxMs, init.retryMinMs * 2 ** Math.min(failures - 1, 40))
    return Math.round(base * (0.5 + Math.random() * 0.5))
  }

  async function attempt (lane: Lane, hook: Webhook, entry: Entry): Promise<void> {
    const result = await deliver({
      url: hook.url,
      secret: hook.secret,
      eventId: String(entry.id),
      body: entry.body,
      timeoutMs: init.timeoutMs,
      policy: components.policy,
      signal: stopping.signal,
      alone: entry.attempts > 0
    })
    if (stopping.signal.aborted || lanes.get(lane.id) !== lane) return
    const now = Date.now()
    await store.recordAttempt(hook.id, {
      time: new Date(now).toISOString(),
      event_id: String(entry.id),
      status_code: result.status ?? null,
      latency_ms: result.latencyMs,
      error: result.error ?? null
    })
    if (result.ok) {
      const at = indexOf(lane.queue, entry)
      if (at >= 0) lane.queue.splice(at, 1)
      lane.ids.delete(entry.id)
      entry.done = true
      lane.failures = 0
      if (entry.parked) await batcher.write([{ type: 'del', key: entry.key }])
      if (store.get(hook.id)?.failingSince != null) await store.update(hook.id, { failingSince: undefined })
      return
    }
    entry.attempts++
    lane.failures++
    entry.nextAt = now + backoff(Math.max(lane.failures, entry.attempts))
    lane.pausedUntil = Math.max(lane.pausedUntil, entry.nextAt)
    await batcher.write([{ type: 'put', key: entry.key, value: encodeEntry(entry) }])
    entry.parked = true
    const current = store.get(hook.id)
    if (current == null || !current.enabled) return
    const since = current.failingSince ?? now
    if (now - since >= init.disableAfterMs) {
      const minutes = Math.round((now - since) / 60_000)
      const reason = `deliveries failed for ${minutes} min since ${new Date(since).toISOString()}; ` +
        `last: ${result.error ?? 'failed'}`
      log.warn({ webhook: hook.id, reason }, 'webhook disabled')
      await store.update(hook.id, { enabled: false, disabledReason: reason })
      await hold(lane)
    } else if (current.failingSince == null) {
      await store.update(hook.id, { failingSince: now })
    }
  }

  /** Pumps once after `gatherMs`, however many events and answers arrive meanwhile. */
  function schedulePump (lane: Lane): void {
    if (lane.pumpScheduled) return
    lane.pumpScheduled = true
    setTimeout(() => { lane.pumpScheduled = false; pump(lane) }, gatherMs)
  }

  function pump (lane: Lane): void {
    if (stopping.signal.aborted || lanes.get(lane.id) !== lane) return
    // A disabled webhook's lane still reads on, skipping what it does not want.
    if (lane.behind && lane.queue.length < window / 2) refill(lane)
    const hook = store.get(lane.id)
    if (hook == null || !hook.enabled) return
    const now = Date.now()
    if (lane.pausedUntil > now) { arm(lane, lane.pausedUntil); return }
    if (lane.inflight.size >= concurrency) return
    const blocked = new Set(lane.inflight.keys())
    let wake = Infinity
    for (const entry of lane.queue) {
      if (blocked.has(entry.requestid)) continue
      blocked.add(entry.requestid)
      if (entry.nextAt > now) { wake = Math.min(wake, entry.nextAt); continue }
      lane.inflight.set(entry.requestid, entry)
      // The request stays blocked until its entry is settled (delivered or parked), not just answered.
      const job = attempt(lane, hook, entry)
        .catch(err => { log.error({ err, webhook: hook.id }, 'delivery bookkeeping failed') })
        .finally(() => { lane.inflight.delete(entry.requestid); running.delete(job); schedulePump(lane) })
      running.add(job)
      if (lane.inflight.size >= concurrency) break
    }
    if (wake < Infinity) arm(lane, wake)
  }

  /** Parks `lane`'s entries and unread wanted events up to `upTo` (the log is about to drop them). */
  async function park (lane: Lane, upTo: number, bodies: Map<number, string>): Promise<void> {
    const hook = store.get(lane.id)
    const parking = lane.queue.filter(entry => entry.id <= upTo && !entry.parked)
    const ops: ExtraOp[] = parking.map(entry => ({ type: 'put', key: entry.key, value: encodeEntry(entry) }))
    if (hook != null && lane.logPos < upTo) {
      for (const [id, json] of bodies) {
        if (id <= lane.logPos || id > upTo) continue
        const e: LoggedEvent = { id, event: JSON.parse(json) as PinEvent, json }
        const entry = entryOf(lane.id, e)
        if (matches(hook, e)) ops.push({ type: 'put', key: entry.key, value: encodeEntry(entry) })
      }
    }
    if (ops.length > 0) await db.batch(ops)
    // Delivered while being parked: it must not be delivered again.
    const gone: ExtraOp[] = []
    for (const entry of parking) {
      if (entry.done === true) gone.push({ type: 'del', key: entry.key })
      else entry.parked = true
    }
    if (gone.length > 0) await batcher.write(gone)
    lane.logPos = Math.max(lane.logPos, upTo)
  }

  async function hold (lane: Lane): Promise<void> {
    const job = lane.op.then(async () => { await park(lane, lane.logPos, new Map()) })
    lane.op = job.catch(() => {})
    await job
  }

  return {
    async start () {
      const cursors = new Map<string, number>()
      for (const hook of store.all()) {
        const stored = await db.get(CURSOR + hook.id)
        cursors.set(hook.id, stored == null ? events.published() : Number(new TextDecoder().decode(stored)))
        if (stored == null) await db.put(CURSOR + hook.id, encoder.encode(String(cursors.get(hook.id))), { sync: true })
        lanes.set(hook.id, newLane(hook.id, cursors.get(hook.id) as number, true))
      }
      unsubscribe = events.subscribe((e) => {
        for (const lane of lanes.values()) {
          if (lane.behind || e.id <= lane.logPos) continue
          const hook = store.get(lane.id)
          if (hook != null && matches(hook, e)) {
            if (lane.queue.length >= window) { lane.behind = true; continue }
            put(lane, entryOf(lane.id, e))
            schedulePump(lane)
          }
          lane.logPos = e.id
        }
      })
      for (const lane of lanes.values()) refill(lane)
      await Promise.all([...lanes.values()].map(async lane => await lane.op))
      cursorTimer = setInterval(() => {
        void flushCursors().catch(err => { log.warn({ err }, 'cannot write the webhook cursors') })
      }, init.cursorFlushMs ?? 1000)
      cursorTimer.unref()
    },

    async add (id) {
      if (lanes.has(id)) return
      const lane = newLane(id, events.published(), false)
      lanes.set(id, lane)
      await db.put(CURSOR + id, encoder.encode(String(lane.cursor)), { sync: true })
    },

    async beforePrune (upTo, bodies) {
      for (const lane of [...lanes.values()]) {
        if (lane.logPos >= upTo && lane.queue.every(e => e.parked || e.id > upTo)) continue
        // A failure reaches the prune (which then drops nothing), not the lane's later reads.
        const job = lane.op.then(async () => { await park(lane, upTo, bodies) })
        lane.op = job.catch(() => {})
        await job
      }
    },

    wake (id) {
      const lane = lanes.get(id)
      if (lane == null) return
      lane.failures = 0
      lane.pausedUntil = 0
      for (const entry of lane.queue) entry.nextAt = 0
      pump(lane)
    },

    async hold (id) {
      const lane = lanes.get(id)
      if (lane != null) await hold(lane)
    },

    async drop (id) {
      const lane = lanes.get(id)
      lanes.delete(id)
      if (lane != null) { clearTimeout(lane.timer); await lane.op.catch(() => {}) }
      await db.clear({ gt: `${PREFIX}${id}/`, lt: `${PREFIX}${id}/\xff` })
      await db.del(CURSOR + id)
    },

    waiting (id) {
      const lane = lanes.get(id)
      return { count: lane?.queue.length ?? 0, more: lane?.behind ?? false }
    },

    async stop () {
      unsubscribe?.()
      clearInterval(cursorTimer)
      stopping.abort()
      for (const lane of lanes.values()) clearTimeout(lane.timer)
      await Promise.allSettled([...running])
      await Promise.allSettled([...lanes.values()].map(async lane => await lane.op))
      await flushCursors().catch(err => { log.warn({ err }, 'cannot write the webhook cursors') })
    }
  }
}
