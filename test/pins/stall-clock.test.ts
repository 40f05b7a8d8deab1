/**
 * A fetch's stall clock runs while the fetch waits for peers and stops while its block requests all wait for a
 * slot of the limiter; a block starts the silence over.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { createSemaphore } from '../../src/pins/semaphore.js'
import { createStallClock } from '../../src/pins/stall-clock.js'

describe('stall clock', () => {
  it('counts only the time a request is out or none waits for a slot, and starts over at each block', async () => {
    const semaphore = createSemaphore(1)
    const lane = semaphore.shared()
    lane.join('alice')
    let stalledAt: number | undefined
    const clock = createStallClock(300, () => { stalledAt = performance.now() })
    const limiter = clock.limiter(lane)
    try {
      // Another fetch holds the only slot: this one's request waits, its clock stopped after 100 ms.
      await sleep(100)
      await semaphore.acquire()
      const waiting = limiter.acquire()
      await sleep(500)
      expect(stalledAt).toBeUndefined()
      semaphore.release()
      await waiting
      const out = performance.now()
      // Out with the ~200 ms left; a block at 100 ms starts 300 over.
      await sleep(100)
      clock.progressed()
      const progressed = performance.now()
      await sleep(250)
      expect(stalledAt).toBeUndefined()
      await sleep(150)
      expect(stalledAt).toBeGreaterThanOrEqual(progressed + 295)
      expect(stalledAt).toBeGreaterThan(out + 100)
      limiter.release()
    } finally {
      clock.stop()
    }
  })

  // A request that gave up waiting (its signal aborted) restarts the clock: before, it stayed stopped, and the
  // fetch never stalled however long no block came (review17).
  it('runs again once a waiting request is aborted', async () => {
    const semaphore = createSemaphore(1)
    const lane = semaphore.shared()
    lane.join('alice')
    let stalled = false
    const clock = createStallClock(200, () => { stalled = true })
    const limiter = clock.limiter(lane)
    await semaphore.acquire()
    try {
      const controller = new AbortController()
      const waiting = limiter.acquire(controller.signal)
      await sleep(50)
      controller.abort(new Error('given up'))
      await expect(waiting).rejects.toThrow('given up')
      await sleep(400)
      expect(stalled).toBe(true)
    } finally {
      clock.stop()
      semaphore.release()
    }
  })
})
