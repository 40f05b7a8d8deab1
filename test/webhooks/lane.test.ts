/**
 * A lane's window under many deliveries: delivered entries are only marked
 * and skipped, and the window is compacted once its front is mostly done.
 * What must hold throughout: the entries still waiting are exactly those not
 * delivered, in id order (also one put back older than the rest), the count
 * the API shows is theirs, and the cursor never passes one only it stands for.
 */
import { describe, expect, it } from 'vitest'
import { newLane, put, remove, safeCursor, waiting } from '../../src/webhooks/lane.js'
import type { Entry } from '../../src/webhooks/outbox-entries.js'

const entry = (id: number, parked = false): Entry =>
  ({ webhook: 'hook', id, requestid: `r${id % 7}`, body: new Uint8Array(), attempts: 0, nextAt: 0, parked })

describe('lane window', () => {
  it('keeps the waiting entries in order through removals and compactions', () => {
    const lane = newLane('hook', 0, false)
    const all = Array.from({ length: 5000 }, (_, i) => entry(i + 1, (i + 1) % 500 === 0))
    for (const e of all) put(lane, e)
    lane.logPos = 5000
    const delivered = new Set<number>()
    // Mostly in order, with stragglers left behind (in flight, or failed and parked).
    for (const e of all) {
      if (e.id % 97 === 0 || e.id % 500 === 0) continue
      remove(lane, e)
      delivered.add(e.id)
      if (e.id % 1000 === 0) {
        const left = [...waiting(lane)].map(w => w.id)
        expect(left).toEqual(all.filter(w => !delivered.has(w.id)).map(w => w.id))
        expect(lane.live).toBe(left.length)
      }
    }
    // The front was compacted away: the window holds little more than what waits.
    expect(lane.queue.length).toBeLessThan(2 * lane.live + 1024)
    const left = all.filter(w => !delivered.has(w.id))
    expect([...waiting(lane)]).toEqual(left)
    // 97 is the first entry only the cursor stands for (500 is parked).
    expect(safeCursor(lane)).toBe(96)
    // An older entry read back from the parked ones goes before the rest.
    put(lane, entry(3, true))
    expect([...waiting(lane)].map(w => w.id).slice(0, 2)).toEqual([3, 97])
    // Removing twice changes nothing.
    remove(lane, all[0] as Entry)
    expect(lane.live).toBe(left.length + 1)
    for (const e of left) if (!e.parked) remove(lane, e)
    expect(safeCursor(lane)).toBe(5000)
    expect([...waiting(lane)].every(e => e.parked)).toBe(true)
  })
})
