/**
 * pin.progress events: once a second, each request that is queued or pinning
 * and whose fetch moved since its last event gets one. It follows the log's
 * own events to know which requests are open, so the worker needs no hook.
 *
 * It keeps an open request's id and bytes, not its record: a request only
 * moves while its job runs, so an event's record is the worker's (read as the
 * job started) or, once the job made it `pinning`, that event's. Holding the
 * record of each of 100k requests resumed at start (or queued) was ~70 MiB.
 */
import type { EventLog } from './event-log.js'
import type { Logger } from '../logger.js'
import type { PinProgress, PinRecord } from '../pins/types.js'

/** Emits progress events. */
export interface ProgressTicker {
  start(): Promise<void>
  stop(): void
}

/** What the ticker needs. */
export interface ProgressTickerComponents {
  events: Pick<EventLog, 'subscribe' | 'appendProgress'>
  /** Live progress of a request being fetched. */
  progressOf(requestid: string): PinProgress | undefined
  /** The record of a request being fetched, as its job read it when it started. */
  runningRecord(requestid: string): PinRecord | undefined
  /**
   * Ids of the requests open at start (they resume without a new event): those
   * the worker resumed, in memory (iterated asynchronously, 500k added ~0.6 s to a start).
   */
  pending(): Iterable<string>
  logger: Logger
}

/** Creates the ticker (not started). */
export function createProgressTicker (
  init: { intervalMs?: number },
  components: ProgressTickerComponents
): ProgressTicker {
  /** Open request → bytes in its last progress event. */
  const open = new Map<string, number>()
  /** Records of `pin.pinning` events: newer than the job's own (its status); as many as jobs running. */
  const pinning = new Map<string, PinRecord>()
  const log = components.logger.child({ component: 'progress-events' })
  let unsubscribe: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  let ticking = false

  async function tick (): Promise<void> {
    if (ticking) return
    ticking = true
    try {
      for (const [requestid, bytes] of open) {
        const p = components.progressOf(requestid)
        if (p == null || p.bytes === bytes) continue
        const record = pinning.get(requestid) ?? components.runningRecord(requestid)
        if (record == null) continue
        open.set(requestid, p.bytes)
        await components.events.appendProgress(record, p)
      }
    } catch (err) {
      log.warn({ err }, 'cannot append a progress event')
    } finally {
      ticking = false
    }
  }

  return {
    async start () {
      unsubscribe = components.events.subscribe(({ event, record }) => {
        if (record == null) return
        if (event.type === 'pin.queued' || event.type === 'pin.pinning') {
          open.set(record.requestid, open.get(record.requestid) ?? 0)
          if (event.type === 'pin.pinning') pinning.set(record.requestid, record)
        } else if (event.type !== 'pin.progress') {
          open.delete(record.requestid)
          pinning.delete(record.requestid)
        }
      })
      for (const requestid of components.pending()) {
        if (!open.has(requestid)) open.set(requestid, 0)
      }
      timer = setInterval(() => { void tick() }, init.intervalMs ?? 1000)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      unsubscribe?.()
      open.clear()
      pinning.clear()
    }
  }
}
