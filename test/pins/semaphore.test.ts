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
  it("serves a shared lane's waiters at the first turn of any lane joined, once, and not in one left", async () => {
    const limiter = createSemaphore(1)
    const [alice, bob] = [limiter.lane('alice'), limiter.lane('bob')]
    const shared = limiter.shared()
    shared.join('alice')
    await limiter.acquire()
    const order: string[] = []
    const wait = (lane: typeof alice, name: string, signal?: AbortSignal): Promise<void> =>
      lane.acquire(signal).then(() => { order.push(name); lane.release() })
    // alice's backlog, then the shared fetch's two requests behind it in her lane; bob joins the fetch.
    const waits = [...['a1', 'a2', 'a3'].map(async name => { await wait(alice, name) })]
    waits.push(wait(shared, 's1'), wait(shared, 's2'))
    shared.join('bob')
    waits.push(wait(bob, 'b1'))
    limiter.release()
    await Promise.all(waits)
    // Served in bob's turns (each once, not again in alice's): without bob's lane s1 and s2 came after a3.
    expect(order).toEqual(['a1', 's1', 'a2', 's2', 'a3', 'b1'])

    // alice (who started it) leaves: its requests wait in bob's lane only; an aborted one leaves every lane.
    order.length = 0
    await limiter.acquire()
    const controller = new AbortController()
    const more = [
      ...['a4', 'a5'].map(async name => { await wait(alice, name) }),
      wait(shared, 's3'),
      wait(shared, 's4', controller.signal).catch(() => { order.push('s4 aborted') })
    ]
    shared.leave('alice')
    controller.abort(new Error('gone'))
    limiter.release()
    await Promise.all(more)
    // In bob's turn, between alice's (in the starter's lane for good it came after a5).
    expect(order.filter(name => name !== 's4 aborted')).toEqual(['a4', 's3', 'a5'])
    expect(order).toContain('s4 aborted')
    await limiter.acquire() // every slot is free again
  })
})
