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
 * (parked entries and the log, in id order) as it drains; lane-store.ts keeps
 * the cursors and parked entries, failure-policy.ts handles failed attempts
 * (backoff, parking, disabling), this module delivers.
 */
import { prepare, sendTo, type AttemptResult } from './deliver.js'
import { entryOf, keyOf, matches, type Entry } from './outbox-entries.js'
import { createFailurePolicy } from './failure-policy.js'
import { newLane, put, remove, type Lane } from './lane.js'
import { createLaneStore } from './lane-store.js'
import type { TargetPolicy } from './target-policy.js'
import type { WebhookStore, Webhook } from './webhook-store.js'
import type { EventLog } from '../events/event-log.js'
import type { Logger } from '../logger.js'
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
  const { store, events } = components
  const log = components.logger.child({ component: 'webhooks' })
  // 512, not 128: a lane sends at most this many per gather (~55 ms), and 128 carried ~2,300 POSTs/s per
  // webhook, below bench:events' peak (~2,900 events/s): at 3,000/s delivery lag p99 was 1.2 s with 128 and
  // 0.1–0.24 s with 512, CPU per POST the same (bench:webhook-cost, round eight). Pipelined 128 per connection.
  const concurrency = init.concurrency ?? 512
  const gatherMs = init.gatherMs ?? 50
  const window = init.window ?? 5000
  const lanes = new Map<string, Lane>()
  const durable = createLaneStore({ db: components.db, store, events, log })
  const { failed } = createFailurePolicy(init, { store, durable, log })
  const stopping = new AbortController()
  /** Attempts in flight, and who waits for them to end (stop). */
  let active = 0
  let drained: (() => void) | undefined
  let unsubscribe: (() => void) | undefined
  let cursorTimer: NodeJS.Timeout | undefined
  const writeCursors = async (): Promise<void> => {
    await durable.writeCursors(lanes.values()).catch(err => { log.warn({ err }, 'cannot write the webhook cursors') })
  }

  const refill = (lane: Lane): void => {
    durable.refill(lane, window, () => { if (lanes.get(lane.id) === lane) pump(lane) })
  }

  function arm (lane: Lane, at: number): void {
    clearTimeout(lane.timer)
    lane.timer = setTimeout(() => { pump(lane) }, Math.max(0, at - Date.now()))
    lane.timer.unref()
  }

  /**
   * Whether a retry set for `at` (wall clock, as stored) is still ahead. One further ahead than the longest
   * backoff was set before the clock went back (NTP, a resumed VM): it is due now, not after the clock has
   * caught up again (an hour set back held every retry back an hour).
   */
  function waits (at: number, now: number): boolean {
    return at > now && at - now <= init.retryMaxMs
  }

  /**
   * One attempt; the request stays blocked until the entry is delivered or parked. Callbacks, not an async
   * function: a delivery that succeeds at its first attempt (nearly all) makes no promise here.
   */
  function attempt (lane: Lane, hook: Webhook, entry: Entry): void {
    const ended = (): void => {
      lane.inflight.delete(entry.requestid)
      schedulePump(lane)
      if (--active === 0) drained?.()
    }
    const fail = (err: unknown): void => { log.error({ err, webhook: hook.id }, 'delivery bookkeeping failed') }
    try {
      lane.target ??= prepare(hook.url, hook.secret, components.policy)
      const eventId = String(entry.id)
      const s = {
        eventId, body: entry.body, timeoutMs: init.timeoutMs, signal: stopping.signal, alone: entry.attempts > 0
      }
      sendTo(lane.target, s, (result) => {
        let after: Promise<void> | undefined
        try { after = outcome(lane, hook, entry, eventId, result) } catch (err) { fail(err) }
        if (after == null) ended()
        else void after.catch(fail).finally(ended)
      })
    } catch (err) {
      fail(err)
      ended()
    }
  }

  /** An attempt's bookkeeping; a promise only when something is written (a failure, a parked entry). */
  function outcome (lane: Lane, hook: Webhook, entry: Entry, eventId: string, result: AttemptResult):
  Promise<void> | undefined {
    if (stopping.signal.aborted || lanes.get(lane.id) !== lane) return
    const now = Date.now()
    store.recordAttempt(hook.id, now, {
      event_id: eventId,
      status_code: result.status ?? null,
      latency_ms: result.latencyMs,
      error: result.error ?? null
    })
    if (!result.ok) return failed(lane, hook, entry, now, result.error)
    remove(lane, entry)
    lane.failures = 0
    if (!entry.parked && store.get(hook.id)?.failingSince == null) return
    return (async () => {
      if (entry.parked) await durable.write([{ type: 'del', key: keyOf(entry) }])
      if (store.get(hook.id)?.failingSince != null) await store.update(hook.id, { failingSince: undefined })
    })()
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
    if (lane.behind && lane.live < window / 2) refill(lane)
    const hook = store.get(lane.id)
    if (hook == null || !hook.enabled) return
    const now = Date.now()
    if (waits(lane.pausedUntil, now)) { arm(lane, lane.pausedUntil); return }
    if (lane.inflight.size >= concurrency) return
    // A request is blocked while one of its entries is in flight or waits for a retry: those waiting are
    // gathered here (few); the in-flight ones are looked up where they are, not copied into a set per pump.
    let retrying: Set<string> | undefined
    let wake = Infinity
    const { queue, inflight } = lane
    for (let i = lane.start; i < queue.length; i++) {
      const entry = queue[i] as Entry
      if (entry.done === true || inflight.has(entry.requestid) || retrying?.has(entry.requestid) === true) continue
      if (waits(entry.nextAt, now)) {
        (retrying ??= new Set()).add(entry.requestid)
        wake = Math.min(wake, entry.nextAt)
        continue
      }
      inflight.set(entry.requestid, entry)
      active++
      attempt(lane, hook, entry)
      if (inflight.size >= concurrency) break
    }
    if (wake < Infinity) arm(lane, wake)
  }

  return {
    async start () {
      const left = await durable.forgetAllBut(new Set(store.all().map(h => h.id)))
      if (left > 0) log.info({ webhooks: left }, 'forgot the outbox entries of webhooks removed before a crash')
      for (const hook of store.all()) {
        let cursor = await durable.cursor(hook.id)
        if (cursor == null) await durable.createCursor(hook.id, cursor = events.published())
        lanes.set(hook.id, newLane(hook.id, cursor, true))
      }
      unsubscribe = events.subscribe((e) => {
        let bytes: Uint8Array | undefined
        for (const lane of lanes.values()) {
          if (lane.behind || e.id <= lane.logPos) continue
          const hook = store.get(lane.id)
          if (hook != null && matches(hook, e)) {
            if (lane.live >= window) { lane.behind = true; continue }
            // One copy of the event's bytes for every webhook it goes to.
            put(lane, entryOf(lane.id, e, bytes ??= e.bytes ?? Buffer.from(e.json)))
            schedulePump(lane)
          }
          lane.logPos = e.id
        }
      })
      for (const lane of lanes.values()) refill(lane)
      await Promise.all([...lanes.values()].map(async lane => await lane.op))
      cursorTimer = setInterval(() => {
        void writeCursors()
      }, init.cursorFlushMs ?? 1000)
      cursorTimer.unref()
    },

    async add (id) {
      if (lanes.has(id)) return
      const lane = newLane(id, events.published(), false)
      lanes.set(id, lane)
      await durable.createCursor(id, lane.cursor)
    },

    async beforePrune (upTo, bodies) {
      for (const lane of [...lanes.values()]) {
        if (lane.logPos >= upTo && lane.queue.every(e => e.done === true || e.parked || e.id > upTo)) continue
        await durable.park(lane, upTo, bodies)
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
      if (lane != null) await durable.hold(lane)
    },

    async drop (id) {
      const lane = lanes.get(id)
      lanes.delete(id)
      if (lane != null) { clearTimeout(lane.timer); await lane.op.catch(() => {}) }
      await durable.forget(id)
    },

    waiting (id) {
      const lane = lanes.get(id)
      return { count: lane?.live ?? 0, more: lane?.behind ?? false }
    },

    async stop () {
      unsubscribe?.()
      clearInterval(cursorTimer)
      stopping.abort()
      for (const lane of lanes.values()) clearTimeout(lane.timer)
      if (active > 0) await new Promise<void>(resolve => { drained = resolve })
      await Promise.allSettled([...lanes.values()].map(async lane => await lane.op))
      await writeCursors()
    }
  }
}
