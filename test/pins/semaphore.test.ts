/**
 * The limiter caps concurrent holders and hands slots out in order; lanes
 * (owners) take turns; an aborted waiter leaves the queue without taking a slot.
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

  it('serves lanes in turns, each lane in order, so one lane\'s many waiters do not delay another\'s one', async () => {
    const limiter = createSemaphore(1)
    const [alice, bob] = [limiter.lane('alice'), limiter.lane('bob')]
    await alice.acquire()
    const order: string[] = []
    const wait = (lane: typeof alice, name: string, signal?: AbortSignal): Promise<void> =>
      lane.acquire(signal).then(() => { order.push(name); lane.release() })
    const controller = new AbortController()
    const waits = [
      ...['a1', 'a2', 'a3'].map(async name => { await wait(alice, name) }),
      wait(bob, 'b1'),
      wait(bob, 'b2', controller.signal).catch(() => { order.push('b2 aborted') }),
      wait(bob, 'b3')
    ]
    controller.abort(new Error('gone'))
    alice.release()
    await Promise.all(waits)
    expect(order.filter(name => name !== 'b2 aborted')).toEqual(['a1', 'b1', 'a2', 'b3', 'a3'])
    expect(order).toContain('b2 aborted')
    await limiter.acquire() // every slot is free again
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
