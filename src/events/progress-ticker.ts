/**
 * pin.progress events: once a second, each request being fetched whose fetch
 * moved since its last event gets one. It asks the worker which fetches run
 * and follows the log's own events for the rest (a newer record, a request
 * that settled while its job ends), so the worker needs no hook.
 *
 * Only requests being fetched are looked at: following every open request
 * (each one queued, and each of 100k resumed at start) held a map entry each
 * and walked all of them every second, ~11 MB of garbage a second on the
 * 1M-record bench dir, which kept young-generation pages resident.
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
  /** The records of the requests being fetched, each as its job read it when it started. */
  fetching(): Iterable<PinRecord>
  /** Live progress of a request being fetched. */
  progressOf(requestid: string): PinProgress | undefined
  logger: Logger
}

/** Creates the ticker (not started). */
export function createProgressTicker (
  init: { intervalMs?: number },
  components: ProgressTickerComponents
): ProgressTicker {
  // Each kept only for requests being fetched (or settled within the last tick).
  /** Bytes in a request's last progress event. */
  const sent = new Map<string, number>()
  /** Records of `pin.pinning` events: newer than the job's own (their status). */
  const pinning = new Map<string, PinRecord>()
  /** Settled, replaced or deleted, though the job may not have ended yet: no more progress. */
  const closed = new Set<string>()
  const log = components.logger.child({ component: 'progress-events' })
  let unsubscribe: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  let ticking = false

  async function tick (): Promise<void> {
    if (ticking) return
    ticking = true
    try {
      const running = [...components.fetching()]
      const ids = new Set(running.map(r => r.requestid))
      for (const held of [sent, pinning, closed]) {
        for (const requestid of held.keys()) if (!ids.has(requestid)) held.delete(requestid)
      }
      for (const record of running) {
        const { requestid } = record
        const p = components.progressOf(requestid)
        // Checked here, after the previous append: an event may have closed the request meanwhile.
        if (p == null || closed.has(requestid) || p.bytes === (sent.get(requestid) ?? 0)) continue
        sent.set(requestid, p.bytes)
        await components.events.appendProgress(pinning.get(requestid) ?? record, p)
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
        if (record == null || event.type === 'pin.queued' || event.type === 'pin.progress') return
        if (event.type === 'pin.pinning') pinning.set(record.requestid, record)
        else closed.add(record.requestid)
      })
      timer = setInterval(() => { void tick() }, init.intervalMs ?? 1000)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      unsubscribe?.()
      sent.clear()
      pinning.clear()
      closed.clear()
    }
  }
}
