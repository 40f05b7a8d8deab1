/**
 * pin.progress events: once a second, each request that is queued or pinning
 * and whose fetch moved since its last event gets one. It follows the log's
 * own events to know which requests are open, so the worker needs no hook.
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
  /**
   * Requests open at start (they resume without a new event): those the worker
   * resumed, in memory (iterated asynchronously, 500k added ~0.6 s to a start).
   */
  pending(): Iterable<PinRecord>
  logger: Logger
}

/** Creates the ticker (not started). */
export function createProgressTicker (
  init: { intervalMs?: number },
  components: ProgressTickerComponents
): ProgressTicker {
  const open = new Map<string, { record: PinRecord, bytes: number }>()
  const log = components.logger.child({ component: 'progress-events' })
  let unsubscribe: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  let ticking = false

  async function tick (): Promise<void> {
    if (ticking) return
    ticking = true
    try {
      for (const [requestid, entry] of open) {
        const p = components.progressOf(requestid)
        if (p == null || p.bytes === entry.bytes) continue
        entry.bytes = p.bytes
        await components.events.appendProgress(entry.record, p)
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
          open.set(record.requestid, { record, bytes: open.get(record.requestid)?.bytes ?? 0 })
        } else if (event.type !== 'pin.progress') open.delete(record.requestid)
      })
      for (const record of components.pending()) {
        if (!open.has(record.requestid)) open.set(record.requestid, { record, bytes: 0 })
      }
      timer = setInterval(() => { void tick() }, init.intervalMs ?? 1000)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      unsubscribe?.()
      open.clear()
    }
  }
}
