/**
 * The node's count of bitswap messages waiting for their peers (parked.ts): past the cap the longest waiting of the
 * address group holding the most is dropped, never the one that just came, and a wait that ended no longer counts.
 */
import { describe, expect, it } from 'vitest'
import { createParkedSends } from '../../src/node/lean-bitswap/parked.js'

describe('parked sends', () => {
  it('drops the longest waiting past the cap, never the newest, and forgets waits that ended', () => {
    const parked = createParkedSends({ maxBytes: 10 })
    const dropped: string[] = []
    const a = parked.park(4, () => dropped.push('a'))
    parked.park(4, () => dropped.push('b'))
    expect(dropped).toEqual([])
    // 12 > 10: a has waited longest.
    parked.park(4, () => dropped.push('c'))
    expect(dropped).toEqual(['a'])
    expect(parked.bytes()).toBe(8)
    a()
    expect(parked.bytes()).toBe(8)
    // One message larger than the cap still waits alone, after every other one is dropped.
    const d = parked.park(20, () => dropped.push('d'))
    expect(dropped).toEqual(['a', 'b', 'c'])
    expect(parked.bytes()).toBe(20)
    expect(parked.evicted()).toBe(3)
    d()
    d()
    expect(parked.bytes()).toBe(0)
  })

  it('drops from the address group holding the most, not a slow peer\'s oldest message', () => {
    const parked = createParkedSends({ maxBytes: 10 })
    const dropped: string[] = []
    // A slow honest peer's message waits first; then one address's silent peers park fresh ones.
    parked.park(3, () => dropped.push('honest'), '10.0.0.2')
    for (const name of ['a1', 'a2', 'a3', 'a4']) parked.park(3, () => dropped.push(name), '10.0.0.1')
    // 15 > 10: the attacker's address holds 12, the honest one 3 (old code: the honest message went first).
    expect(dropped).toEqual(['a1', 'a2'])
    expect(parked.bytes()).toBe(9)
    // The attacker's address still holds the most: its oldest message goes, not the honest one.
    parked.park(3, () => dropped.push('other'), '10.0.0.3')
    expect(dropped).toEqual(['a1', 'a2', 'a3'])
  })
})
