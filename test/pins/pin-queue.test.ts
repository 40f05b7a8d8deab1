/**
 * The pin queue: FIFO order and exact positions through cancellations.
 */
import { describe, expect, it } from 'vitest'
import { createPinQueue } from '../../src/pins/pin-queue.js'
import type { PinRecord } from '../../src/pins/index.js'

const rec = (id: string): PinRecord => ({ requestid: id, owner: 'a', created: 0, status: 'queued', cidKey: 'c', pin: { cid: 'c' } })

describe('pin queue', () => {
  it('keeps FIFO order and exact positions through cancellations anywhere', () => {
    const q = createPinQueue()
    const ids = Array.from({ length: 10 }, (_, i) => `r${i}`)
    for (const id of ids) q.push(rec(id))
    const model = [...ids]
    const check = (): void => {
      expect(q.length).toBe(model.length)
      model.forEach((id, i) => { expect(q.position(id)).toBe(i + 1) })
    }
    check()
    for (const id of ['r3', 'r7', 'r0', 'r5']) { q.cancel(id); model.splice(model.indexOf(id), 1); check() }
    expect(q.take()?.requestid).toBe('r1'); model.shift(); check()
    q.push(rec('r10')); model.push('r10'); check()
    while (model.length > 0) { expect(q.take()?.requestid).toBe(model.shift()); check() }
    expect(q.take()).toBeUndefined()
    expect(q.cancel('r1')).toBe(false)
    expect(q.position('r2')).toBeUndefined()
  })
})
