/**
 * The durable outbox and its deliverer. An event's deliveries are written in
 * the event's own batch (so in the change's batch), one entry per matching
 * webhook:
 *
 *   /pinery/wh-out/<webhook>/<event id, 16 digits> → "<attempts> <next attempt ms> <requestid>\n[<body>]"
 *
 * The body is left out while the event log holds it (it is read from there
 * when the entry is loaded); before the log drops an event that still has
 * entries, its body is copied into them.
 *
 * An entry is deleted once its webhook answered 2xx; until then it is retried
 * with exponential backoff and jitter, across restarts (attempts and the next
 * attempt are stored). A webhook's deliveries run a few at a time, but never
 * two of one request at once nor out of order. A webhook failing for longer
 * than `disableAfterMs` is disabled with the reason; its entries wait for it
 * to be re-enabled. Each webhook holds a bounded window of entries in memory
 * and reads the rest from LevelDB as it drains.
 */
import { deliver } from './deliver.js'
import { decodeEntry, encodeEntry, entryOf, indexOf, matches, PREFIX, pad } from './outbox-entries.js'
import type { Entry } from './outbox-entries.js'
import { createWriteBatcher } from './write-batcher.js'
import type { TargetPolicy } from './target-policy.js'
import type { WebhookStore, Webhook } from './webhook-store.js'
import type { EventLog, LoggedEvent } from '../events/event-log.js'
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
  /** Entries held in memory per webhook. */
  window?: number
}

/** What the outbox needs. */
export interface OutboxComponents {
  db: Level<string, Uint8Array>
  store: Pick<WebhookStore, 'all' | 'get' | 'update' | 'recordAttempt'>
  events: Pick<EventLog, 'subscribe' | 'get'>
  policy: Pick<TargetPolicy, 'lookup' | 'refusal'>
  logger: Logger
}

/** Queues and delivers webhook events. */
export interface Outbox {
  /** The event log's fan-out: outbox entries for every webhook `e` matches, for `e`'s batch. */
  fanOut(e: LoggedEvent): ExtraOp[]
  /** Loads every webhook's entries and starts delivering. */
  start(): Promise<void>
  /** Retries a webhook's waiting entries now (it was re-enabled). */
  wake(id: string): void
  /** Copies the bodies of events the log is about to drop into the entries that still need them. */
  beforePrune(upTo: number, bodies: Map<number, string>): Promise<void>
  /** Forgets a removed webhook's entries. */
  drop(id: string): Promise<void>
  /** Entries waiting for a webhook (in memory, and whether more wait in LevelDB). */
  waiting(id: string): { count: number, more: boolean }
  stop(): Promise<void>
}

interface Lane {
  id: string
  queue: Entry[]
  keys: Set<string>
  /** Entries beyond the window wait in LevelDB. */
  behind: boolean
  /** Events published while behind (a refill that saw none of them may end being behind). */
  missed: number
  lastLoaded: number
  inflight: Map<string, Entry>
  failures: number
  pausedUntil: number
  timer?: NodeJS.Timeout
  refilling: boolean
  pumpScheduled: boolean
}

/** Creates the outbox (not started). */
export function createOutbox (init: OutboxInit, components: OutboxComponents): Outbox {
  const { db, store } = components
  const log = components.logger.child({ component: 'webhooks' })
  const concurrency = init.concurrency ?? 8
  const window = init.window ?? 5000
  const lanes = new Map<string, Lane>()
  const batcher = createWriteBatcher(db)
  const running = new Set<Promise<void>>()
  const stopping = new AbortController()
  let unsubscribe: (() => void) | undefined

  function laneOf (id: string): Lane {
    let lane = lanes.get(id)
    if (lane == null) {
      lane = {
        id, queue: [], keys: new Set(), behind: false, missed: 0, lastLoaded: 0,
        inflight: new Map(), failures: 0, pausedUntil: 0, refilling: false, pumpScheduled: false
      }
      lanes.set(id, lane)
    }
    return lane
  }

  function insert (lane: Lane, entry: Entry): void {
    if (lane.keys.has(entry.key)) return
    lane.keys.add(entry.key)
    let i = lane.queue.length
    while (i > 0 && (lane.queue[i - 1] as Entry).id > entry.id) i--
    lane.queue.splice(i, 0, entry)
    lane.lastLoaded = Math.max(lane.lastLoaded, entry.id)
  }

  async function refill (lane: Lane): Promise<void> {
    if (lane.refilling) return
    lane.refilling = true
    const missed = lane.missed
    const limit = window - lane.queue.length
    let read = 0
    try {
      const prefix = `${PREFIX}${lane.id}/`
      const range = { gt: `${prefix}${pad(lane.lastLoaded)}`, lt: `${prefix}\xff`, limit }
      const loaded: Entry[] = []
      for await (const [key, value] of db.iterator(range)) loaded.push(decodeEntry(key, value))
      for (const entry of loaded) {
        read++
        if (entry.body === '') {
          const body = await components.events.get(entry.id)
          if (body == null) {
            log.error({ webhook: lane.id, event: entry.id }, 'an outbox entry lost its event; dropping it')
            await batcher.write([{ type: 'del', key: entry.key }])
            continue
          }
          entry.body = body
        }
        insert(lane, entry)
      }
      if (read < limit && lane.missed === missed) lane.behind = false
    } finally {
      lane.refilling = false
    }
    if (lanes.get(lane.id) === lane) pump(lane)
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
      signal: stopping.signal
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
      lane.keys.delete(entry.key)
      lane.failures = 0
      await batcher.write([{ type: 'del', key: entry.key }])
      if (store.get(hook.id)?.failingSince != null) await store.update(hook.id, { failingSince: undefined })
      return
    }
    entry.attempts++
    lane.failures++
    entry.nextAt = now + backoff(Math.max(lane.failures, entry.attempts))
    lane.pausedUntil = Math.max(lane.pausedUntil, entry.nextAt)
    await batcher.write([{ type: 'put', key: entry.key, value: encodeEntry(entry) }])
    const current = store.get(hook.id)
    if (current == null || !current.enabled) return
    const since = current.failingSince ?? now
    if (now - since >= init.disableAfterMs) {
      const minutes = Math.round((now - since) / 60_000)
      const reason = `deliveries failed for ${minutes} min since ${new Date(since).toISOString()}; ` +
        `last: ${result.error ?? 'failed'}`
      log.warn({ webhook: hook.id, reason }, 'webhook disabled')
      await store.update(hook.id, { enabled: false, disabledReason: reason })
    } else if (current.failingSince == null) {
      await store.update(hook.id, { failingSince: now })
    }
  }

  /** Pumps once on the next turn, however many events and answers arrive meanwhile. */
  function schedulePump (lane: Lane): void {
    if (lane.pumpScheduled) return
    lane.pumpScheduled = true
    setImmediate(() => { lane.pumpScheduled = false; pump(lane) })
  }

  function pump (lane: Lane): void {
    if (stopping.signal.aborted || lanes.get(lane.id) !== lane) return
    const hook = store.get(lane.id)
    if (hook == null || !hook.enabled) return
    if (lane.behind && lane.queue.length < window / 2) {
      void refill(lane).catch(err => { log.warn({ err }, 'cannot read the outbox') })
    }
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
      // The request stays blocked until its entry is settled (deleted or rescheduled), not just answered.
      const job = attempt(lane, hook, entry)
        .catch(err => { log.error({ err, webhook: hook.id }, 'delivery bookkeeping failed') })
        .finally(() => { lane.inflight.delete(entry.requestid); running.delete(job); schedulePump(lane) })
      running.add(job)
      if (lane.inflight.size >= concurrency) break
    }
    if (wake < Infinity) arm(lane, wake)
  }

  return {
    fanOut (e) {
      const ops: ExtraOp[] = []
      for (const hook of store.all()) {
        if (!matches(hook, e)) continue
        e.webhooks.push(hook.id)
        const entry = entryOf(hook.id, e)
        ops.push({ type: 'put', key: entry.key, value: encodeEntry(entry, false) })
      }
      return ops
    },

    async start () {
      unsubscribe = components.events.subscribe((e) => {
        for (const id of e.webhooks) {
          const lane = laneOf(id)
          const entry = entryOf(id, e)
          if ((!lane.behind && lane.queue.length < window) || e.id < lane.lastLoaded) insert(lane, entry)
          else { lane.behind = true; lane.missed++ }
          schedulePump(lane)
        }
      })
      for (const hook of store.all()) {
        const lane = laneOf(hook.id)
        lane.behind = true
        await refill(lane)
      }
    },

    async beforePrune (upTo, bodies) {
      const ops: ExtraOp[] = []
      for (const hook of store.all()) {
        const prefix = `${PREFIX}${hook.id}/`
        for await (const [key, value] of db.iterator({ gt: prefix, lte: prefix + pad(upTo) })) {
          const entry = decodeEntry(key, value)
          const body = bodies.get(entry.id)
          if (entry.body === '' && body != null) ops.push({ type: 'put', key, value: encodeEntry({ ...entry, body }) })
        }
      }
      if (ops.length > 0) await db.batch(ops)
    },

    wake (id) {
      const lane = laneOf(id)
      lane.failures = 0
      lane.pausedUntil = 0
      for (const entry of lane.queue) entry.nextAt = 0
      pump(lane)
    },

    async drop (id) {
      const lane = lanes.get(id)
      if (lane != null) clearTimeout(lane.timer)
      lanes.delete(id)
      await db.clear({ gt: `${PREFIX}${id}/`, lt: `${PREFIX}${id}/\xff` })
    },

    waiting (id) {
      const lane = lanes.get(id)
      return { count: lane?.queue.length ?? 0, more: lane?.behind ?? false }
    },

    async stop () {
      unsubscribe?.()
      stopping.abort()
      for (const lane of lanes.values()) clearTimeout(lane.timer)
      await Promise.allSettled([...running])
    }
  }
}
