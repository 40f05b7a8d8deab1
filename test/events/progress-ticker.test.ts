/**
 * The progress ticker looks only at the requests being fetched: each gets a
 * pin.progress event when its fetch moved, with the newest record it knows
 * (a pin.pinning event's over the job's own), and none once the request
 * settled, even while its job is still ending.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createEventLog, type EventLog } from '../../src/events/event-log.js'
import { createProgressTicker, type ProgressTicker } from '../../src/events/progress-ticker.js'
import { openPinCore, quietLogger, type PinCore } from '../fixtures/pin-core.js'
import { waitFor } from '../fixtures/service.js'
import type { PinProgress, PinRecord } from '../../src/pins/types.js'
import type { PinStatusBody } from '../../src/http/pin-status.js'

const record = (requestid: string): PinRecord =>
  ({ requestid, owner: 'alice', created: 1, status: 'queued', cidKey: 'bafkqaaa', pin: { cid: 'bafkqaaa' } })

describe('progress ticker', () => {
  let core: PinCore
  let events: EventLog
  let ticker: ProgressTicker
  /** What the worker would say: the requests being fetched, and their progress. */
  let fetching: PinRecord[]
  let progress: Map<string, PinProgress>
  /** Requests whose progress the ticker asked for. */
  let asked: Set<string>
  let seen: Array<{ type: string, requestid: string, status: string, bytes?: number }>

  beforeEach(async () => {
    core = await openPinCore()
    events = await createEventLog({ maxEvents: 1000, maxAgeMs: 3_600_000 }, {
      db: core.datastore.db,
      render: (r) => ({ requestid: r.requestid, status: r.status }) as unknown as PinStatusBody,
      logger: quietLogger()
    })
    fetching = []
    progress = new Map()
    asked = new Set()
    seen = []
    events.subscribe(({ event }) => {
      const pin = event.pin as unknown as { requestid: string, status: string }
      seen.push({
        type: event.type,
        requestid: pin.requestid,
        status: pin.status,
        ...(event.progress != null ? { bytes: event.progress.bytes } : {})
      })
    })
    ticker = createProgressTicker({ intervalMs: 20 }, {
      events,
      fetching: () => fetching,
      progressOf: (id) => { asked.add(id); return progress.get(id) },
      logger: quietLogger()
    })
    await ticker.start()
  })
  afterEach(async () => {
    ticker.stop()
    events.stop()
    await core.destroy()
  })

  /** A lifecycle change as the lifecycle records it: its event written, then published. */
  async function change (kind: 'pinning' | 'pinned', r: PinRecord): Promise<void> {
    const hook = events.onChange([{ kind, record: { ...r, status: kind } }])
    await core.datastore.db.batch(hook.extra)
    hook.done(true)
  }
  const progressOf = (id: string): typeof seen => seen.filter(e => e.type === 'pin.progress' && e.requestid === id)
  const pause = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

  it('follows running fetches only, with the newest record, and stops at settling', async () => {
    const a = record('a')
    fetching = [a]
    progress.set('a', { blocks: 0, bytes: 0 })
    await pause(100)
    expect(progressOf('a')).toEqual([]) // nothing moved yet
    progress.set('a', { blocks: 1, bytes: 100 })
    await waitFor(async () => progressOf('a').length === 1 ? true : undefined, 5000, 'a progress event')
    expect(progressOf('a')[0]).toMatchObject({ status: 'queued', bytes: 100 })

    await change('pinning', a)
    progress.set('a', { blocks: 2, bytes: 200 })
    await waitFor(async () => progressOf('a').length === 2 ? true : undefined, 5000, 'a second progress event')
    expect(progressOf('a')[1]).toMatchObject({ status: 'pinning', bytes: 200 })

    // Settled while its job still runs (it is still fetching, and its count moved): no more progress.
    await change('pinned', a)
    progress.set('a', { blocks: 3, bytes: 300 })
    await pause(150)
    expect(progressOf('a')).toHaveLength(2)
    expect(seen.at(-1)).toMatchObject({ type: 'pin.pinned', requestid: 'a' })

    // A request open but not being fetched is never looked at.
    await change('pinning', record('b'))
    await pause(100)
    expect(asked.has('b')).toBe(false)
  })
})
