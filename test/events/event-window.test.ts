/**
 * The event log's window by count holds that many events, however many ids were skipped: each start skips up to
 * a block of reserved ids, and a failed write leaves its id empty (old code: the window counted ids, so a node
 * restarted twice kept 20 events of a 50-event window). Real LevelDB in a temp dir, the log reopened on it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createEventLog, type EventLog } from '../../src/events/event-log.js'
import { openPinCore, quietLogger, type PinCore } from '../fixtures/pin-core.js'
import type { PinRecord } from '../../src/pins/types.js'
import type { PinStatusBody } from '../../src/http/pin-status.js'

const MAX = 50
const record: PinRecord =
  { requestid: 'r1', owner: 'alice', created: 1, status: 'queued', cidKey: 'bafkqaaa', pin: { cid: 'bafkqaaa' } }

describe('the event log window by count', () => {
  let core: PinCore
  let log: EventLog | undefined
  beforeEach(async () => { core = await openPinCore() })
  afterEach(async () => {
    log?.stop()
    await core.destroy()
  })

  const open = async (maxAgeMs = 3_600_000, beforePrune?: () => Promise<void>): Promise<EventLog> => {
    log?.stop()
    log = await createEventLog({ maxEvents: MAX, maxAgeMs, pruneIntervalMs: 3_600_000 }, {
      db: core.datastore.db,
      render: (r) => ({ requestid: r.requestid, status: r.status }) as unknown as PinStatusBody,
      logger: quietLogger(),
      ...(beforePrune != null ? { beforePrune } : {})
    })
    return log
  }
  /** `n` events, each written with its change as the lifecycle does (or its write failing). */
  const append = async (events: EventLog, n: number, written = true): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const hook = events.onChange([{ kind: 'pinning', record }])
      if (written) await core.datastore.db.batch(hook.extra)
      hook.done(written)
    }
  }
  const stored = async (events: EventLog): Promise<number[]> => {
    const ids: number[] = []
    for await (const e of events.read(0, events.published())) ids.push(e.id)
    return ids
  }

  it('keeps the newest events up to the count across restarts and failed writes', async () => {
    await append(await open(), 20)
    await append(await open(), 20)
    const events = await open()
    await append(events, 15)
    await append(events, 3, false)
    await append(events, 15)
    // 70 events over ~2,000 ids.
    expect(events.published()).toBeGreaterThan(2000)
    await events.prune()
    const ids = await stored(events)
    expect(ids).toHaveLength(MAX)
    // The oldest 20 went; what is kept is all there for a reader resuming just before it.
    expect(events.isGone((ids[0] as number) - 1)).toBe(false)
    expect(events.isGone((ids[0] as number) - 2)).toBe(true)
    // Past the count by the slack, a prune starts by itself, and the window still counts events.
    await append(events, 101)
    await new Promise(resolve => setTimeout(resolve, 200))
    await events.prune()
    expect(await stored(events)).toHaveLength(MAX)
  })

  it('does not count an event published during a prune as gone', async () => {
    let during: (() => Promise<void>) | undefined
    // Every event is past the age limit: a prune drops all it saw, and one more lands while it runs.
    const events = await open(0, async () => { await during?.() })
    await append(events, 5)
    const end = events.published()
    during = async () => { during = undefined; await append(events, 1) }
    await new Promise(resolve => setTimeout(resolve, 10))
    await events.prune()
    expect(await stored(events)).toEqual([end + 1])
    // A reader that has seen everything up to `end` is not told it missed events (old code: it was).
    expect(events.isGone(end)).toBe(false)
  })
})
