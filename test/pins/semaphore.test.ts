/**
 * The limiter caps concurrent holders and hands slots out in order; an
 * aborted waiter leaves the queue without taking a slot.
 */
import { describe, expect, it } from 'vitest'
import { createSemaphore } from '../../src/pins/semaphore.js'

describe('limiter', () => {
  it('never lets more than its slots run at once, and serves waiters in order', async () => {
    const limiter = createSemaphore(3)
    let running = 0
    let peak = 0
    const order: number[] = []
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      await limiter.acquire()
      order.push(i)
      running++
      peak = Math.max(peak, running)
      await new Promise(resolve => setTimeout(resolve, 5))
      running--
      limiter.release()
    }))
    expect(peak).toBe(3)
    expect(order).toEqual([...order].sort((a, b) => a - b))
  })

  it('drops an aborted waiter without losing a slot', async () => {
    const limiter = createSemaphore(1)
    await limiter.acquire()
    const controller = new AbortController()
    const aborted = limiter.acquire(controller.signal)
    controller.abort(new Error('gone'))
    await expect(aborted).rejects.toThrow('gone')
    limiter.release()
    await limiter.acquire() // the slot is free again
    const waiter = limiter.acquire()
    limiter.release()
    await waiter
  })
})
