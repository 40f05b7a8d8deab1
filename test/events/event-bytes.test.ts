/**
 * A published event carries the bytes the log wrote for it: the webhooks send those bytes (one encoding per
 * event), so they must be exactly the stored value, for lifecycle changes and progress events alike.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createEventLog, type EventLog, type LoggedEvent } from '../../src/events/event-log.js'
import { openPinCore, quietLogger, type PinCore } from '../fixtures/pin-core.js'
import type { PinRecord } from '../../src/pins/types.js'
import type { PinStatusBody } from '../../src/http/pin-status.js'

const record: PinRecord =
  { requestid: 'r-é', owner: 'alice', created: 1, status: 'queued', cidKey: 'bafkqaaa', pin: { cid: 'bafkqaaa' } }

describe('event log bytes', () => {
  let core: PinCore
  let events: EventLog
  const seen: LoggedEvent[] = []

  beforeEach(async () => {
    core = await openPinCore()
    events = await createEventLog({ maxEvents: 1000, maxAgeMs: 3_600_000 }, {
      db: core.datastore.db,
      render: (r) => ({ requestid: r.requestid, status: r.status, info: { note: '€ ✓' } }) as unknown as PinStatusBody,
      logger: quietLogger()
    })
    seen.length = 0
    events.subscribe((e) => { seen.push(e) })
  })
  afterEach(async () => {
    events.stop()
    await core.destroy()
  })

  it('publishes each event with the bytes written to the log', async () => {
    const hook = events.onChange([{ kind: 'pinning', record: { ...record, status: 'pinning' } }])
    await core.datastore.db.batch(hook.extra)
    hook.done(true)
    await events.appendProgress(record, { blocks: 1, bytes: 10 })
    expect(seen.map(e => e.event.type)).toEqual(['pin.pinning', 'pin.progress'])
    for (const e of seen) {
      const stored = await core.datastore.db.get(`/pinery/ev/${String(e.id).padStart(16, '0')}`)
      expect(e.bytes).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(e.bytes as Uint8Array).equals(Buffer.from(stored as Uint8Array))).toBe(true)
      expect(new TextDecoder().decode(e.bytes)).toBe(e.json)
    }
  })
})
