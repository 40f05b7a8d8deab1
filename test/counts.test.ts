import { describe, expect, it } from 'vitest'
import { Counts } from '../src/counts.js'

describe('Counts', () => {
  it('counts up and down, and keeps no entry for a key at zero', () => {
    const counts = new Counts<string>()
    expect(counts.count('a')).toBe(0)
    expect(counts.add('a')).toBe(1)
    expect(counts.add('a', 4)).toBe(5)
    expect(counts.add('b')).toBe(1)
    expect([...counts]).toEqual([['a', 5], ['b', 1]])
    expect(counts.add('a', -5)).toBe(0)
    expect(counts.has('a')).toBe(false)
    // Taking away from a key with nothing leaves nothing, never a negative count.
    expect(counts.add('c', -1)).toBe(0)
    expect(counts.has('c')).toBe(false)
    expect(counts.size).toBe(1)
  })
})
