/**
 * The token bucket behind every rate limit (src/token-bucket.ts), on a clock the test moves: refill, the
 * burst, debt, taking what there is, giving back, the wait for a level, and keys held least recently used.
 */
import { describe, expect, it } from 'vitest'
import { createKeyedBuckets, createTokenBucket } from '../../src/token-bucket.js'

function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1000
  return { now: () => t, advance: (ms) => { t += ms } }
}

describe('token bucket', () => {
  it('starts full, refills at its rate and never past its burst', () => {
    const c = clock()
    const b = createTokenBucket({ perSecond: 10, burst: 5 }, c.now)
    expect(b.tokens()).toBe(5)
    expect(b.takeUpTo(3)).toBe(3)
    c.advance(100)
    expect(b.tokens()).toBeCloseTo(3)
    c.advance(10_000)
    expect(b.tokens()).toBe(5)
  })

  it('takes as many whole tokens as it holds, none into debt', () => {
    const c = clock()
    const b = createTokenBucket({ perSecond: 2, burst: 4 }, c.now)
    expect(b.takeUpTo(10)).toBe(4)
    expect(b.takeUpTo(1)).toBe(0)
    c.advance(250) // half a token
    expect(b.takeUpTo(1)).toBe(0)
    c.advance(250)
    expect(b.takeUpTo(5)).toBe(1)
    expect(b.takeUpTo(-3)).toBe(0)
  })

  it('goes into debt when charged, and says how long until it is paid', () => {
    const c = clock()
    const b = createTokenBucket({ perSecond: 100, burst: 50 }, c.now)
    b.charge(250)
    expect(b.tokens()).toBe(-200)
    expect(b.msUntil(0)).toBe(2000)
    expect(b.msUntil(1)).toBeCloseTo(2010)
    c.advance(1500)
    expect(b.msUntil(0)).toBe(500)
    c.advance(500)
    expect(b.msUntil(0)).toBe(0)
    expect(createTokenBucket({ perSecond: 0, burst: 1 }, c.now).msUntil(2)).toBe(Number.POSITIVE_INFINITY)
  })

  it('gives back up to the burst', () => {
    const c = clock()
    const b = createTokenBucket({ perSecond: 1, burst: 3 }, c.now)
    b.takeUpTo(2)
    b.giveBack(1)
    expect(b.tokens()).toBe(2)
    b.giveBack(5)
    expect(b.tokens()).toBe(3)
  })
})

describe('keyed token buckets', () => {
  it('keeps one bucket per key, each starting full', () => {
    const c = clock()
    const buckets = createKeyedBuckets({ perSecond: 1, burst: 2 }, c.now)
    expect(buckets.get('a').takeUpTo(5)).toBe(2)
    expect(buckets.get('a').takeUpTo(1)).toBe(0)
    expect(buckets.get('b').takeUpTo(1)).toBe(1)
    expect(buckets.size).toBe(2)
    expect(buckets.peek('c')).toBeUndefined()
    expect(buckets.size).toBe(2)
    buckets.delete('a')
    expect(buckets.get('a').tokens()).toBe(2)
  })

  it('holds at most maxKeys, dropping the least recently used first', () => {
    const c = clock()
    const buckets = createKeyedBuckets({ perSecond: 1, burst: 1, maxKeys: 2 }, c.now)
    buckets.get('a').takeUpTo(1)
    buckets.get('b').takeUpTo(1)
    buckets.get('a') // a is now the most recently used
    buckets.get('c').takeUpTo(1)
    expect(buckets.size).toBe(2)
    expect(buckets.peek('b')).toBeUndefined()
    expect(buckets.peek('a')?.tokens()).toBe(0)
  })
})
