/**
 * The pin queue: FIFO order and exact positions through cancellations.
 */
import { describe, expect, it } from 'vitest'
import { createPinQueue } from '../../src/pins/pin-queue.js'

/** A queued request: its id and owner. */
const rec = (id: string, owner = 'a'): [string, string] => [id, owner]

describe('pin queue', () => {
  it('keeps FIFO order and exact positions through cancellations anywhere', () => {
    const q = createPinQueue()
    const ids = Array.from({ length: 10 }, (_, i) => `r${i}`)
    for (const id of ids) q.push(...rec(id))
    const model = [...ids]
    const check = (): void => {
      expect(q.length).toBe(model.length)
      model.forEach((id, i) => { expect(q.position(id)).toBe(i + 1) })
    }
    check()
    for (const id of ['r3', 'r7', 'r0', 'r5']) { q.cancel(id); model.splice(model.indexOf(id), 1); check() }
    expect(q.take()?.requestid).toBe('r1'); model.shift(); check()
    q.push(...rec('r10')); model.push('r10'); check()
    while (model.length > 0) { expect(q.take()?.requestid).toBe(model.shift()); check() }
    expect(q.take()).toBeUndefined()
    expect(q.cancel('r1')).toBe(false)
    expect(q.position('r2')).toBeUndefined()
  })

  it('gives a replaced request its place, and a restarted running one the head of its owner', () => {
    const q = createPinQueue()
    const model = ['r0', 'r1', 'r2', 'r3']
    for (const id of model) q.push(...rec(id))
    const check = (): void => {
      expect(q.length).toBe(model.length)
      model.forEach((id, i) => { expect(q.position(id)).toBe(i + 1) })
    }
    q.cancel('r0'); model.shift()
    // Renamed twice (restarted, then restarted again): still second, the first names are gone.
    expect(q.rename('r2', 'r2b')).toBe(true); model[1] = 'r2b'; check()
    expect(q.rename('r2b', 'r2c')).toBe(true); model[1] = 'r2c'; check()
    expect(q.has('r2')).toBe(false)
    expect(q.rename('r2', 'x')).toBe(false)
    expect(q.rename('r3', 'r2c')).toBe(false)
    q.pushFront(...rec('r9'), 9); model.unshift('r9'); check()
    q.push(...rec('r4')); model.push('r4'); check()
    expect(q.cancel('r1')).toBe(true); model.splice(model.indexOf('r1'), 1); check()
    while (model.length > 0) { expect(q.take()?.requestid).toBe(model.shift()); check() }
    expect(q.cancel('r2c')).toBe(false)
  })

  it('puts requests that were running before the rest, in the order of their places', () => {
    const q = createPinQueue()
    const model = ['r5', 'r6', 'r7']
    for (const id of model) q.push(...rec(id))
    q.cancel('r6'); model.splice(1, 1)
    const check = (): void => {
      expect(q.length).toBe(model.length)
      model.forEach((id, i) => { expect(q.position(id)).toBe(i + 1) })
    }
    // Taken in the order 2, 3, 1 and sent back in that order: queued 1, 2, 3, as a restart rebuilds them.
    q.pushFront(...rec('x3'), 3); model.unshift('x3'); check()
    q.pushFront(...rec('x4'), 4); model.splice(1, 0, 'x4'); check()
    q.pushFront(...rec('x1'), 1); model.unshift('x1'); check()
    // A front one replaced keeps its place among them; a cancel among them keeps the others exact.
    expect(q.rename('x4', 'x4b')).toBe(true); model[2] = 'x4b'; check()
    q.pushFront(...rec('x2'), 2); model.splice(1, 0, 'x2'); check()
    q.cancel('x3'); model.splice(model.indexOf('x3'), 1); check()
    q.push(...rec('r8')); model.push('r8'); check()
    expect(q.take()?.requestid).toBe('x1'); model.shift(); check()
    // Taken, then back in front of the rest (its place is the earliest).
    q.pushFront(...rec('x1'), 1); model.unshift('x1'); check()
    while (model.length > 0) { expect(q.take()?.requestid).toBe(model.shift()); check() }
  })

  it('takes owners in turns, and positions follow the order records are taken in', () => {
    const q = createPinQueue()
    for (let i = 0; i < 100; i++) q.push(...rec(`a${i}`, 'a'))
    q.push(...rec('b0', 'b')); q.push(...rec('b1', 'b'))
    q.push(...rec('c0', 'c'))
    // a's backlog does not keep b and c waiting: one turn each, an owner's first before the owners that queued
    // before it (c's before b's before a's).
    expect(q.position('c0')).toBe(1)
    expect(q.position('b0')).toBe(2)
    expect(q.position('a0')).toBe(3)
    expect(q.position('b1')).toBe(4)
    expect(q.position('a1')).toBe(5)
    expect(q.position('a2')).toBe(6)
    expect(q.position('a99')).toBe(103)
    q.cancel('a1')
    expect(q.position('a2')).toBe(5) // a's second now
    expect(q.position('a99')).toBe(102)
    // Every position is the order take() returns records in.
    const expected = ['c0', 'b0', 'a0', 'b1', 'a2', 'a3']
    const positions = expected.map(id => q.position(id))
    expect(positions).toEqual([1, 2, 3, 4, 5, 6])
    expect(expected.map(() => q.take()?.requestid)).toEqual(expected)
    // An owner refused (at its slot cap) keeps its turn for later.
    const notA = (owner: string): number => owner === 'a' ? Infinity : 0
    expect(q.take(notA)).toBeUndefined()
    q.push(...rec('c1', 'c'))
    expect(q.take(notA)?.requestid).toBe('c1')
    expect(q.take()?.requestid).toBe('a4')
    expect(q.length).toBe(95)
  })

  it('gives the next slot to the owner holding the fewest, and positions count the slots each holds', () => {
    const q = createPinQueue()
    for (let i = 0; i < 10; i++) q.push(...rec(`a${i}`, 'a'))
    for (let i = 0; i < 10; i++) q.push(...rec(`b${i}`, 'b'))
    q.push(...rec('c0', 'c')); q.push(...rec('c1', 'c'))
    // a holds 3 slots, b 1, c none: c's first goes first, then b and c take turns, b first (it held a slot
    // already when c took its first); a's first once b holds as many as a (3), before b's next.
    const slots = new Map([['a', 3], ['b', 1]])
    const held = (owner: string): number => slots.get(owner) ?? 0
    const order = ['c0', 'b0', 'c1', 'b1', 'a0', 'b2', 'a1', 'b3', 'a2']
    expect(order.map(id => q.position(id, held))).toEqual(order.map((_, i) => i + 1))
    for (const id of order) {
      const next = q.take(held)
      expect(next?.requestid).toBe(id)
      slots.set(next?.owner as string, held(next?.owner as string) + 1)
    }
  })

  it('stays fast with 10,000 queued records of many owners', () => {
    const q = createPinQueue()
    const started = performance.now()
    for (let i = 0; i < 10_000; i++) q.push(...rec(`r${i}`, `u${i % 10}`))
    for (let i = 0; i < 10_000; i += 7) q.position(`r${i}`)
    for (let i = 0; i < 10_000; i += 3) q.cancel(`r${i}`)
    while (q.take() != null);
    expect(performance.now() - started).toBeLessThan(1000)
  })
})
