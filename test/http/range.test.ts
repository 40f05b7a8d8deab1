/**
 * Range headers against a body size: one range served, several or garbage
 * ignored (the whole body), past the end unsatisfiable.
 */
import { describe, expect, it } from 'vitest'
import { parseRange } from '../../src/http/range.js'

describe('parseRange', () => {
  it('resolves single ranges, clamping the end to the body', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ offset: 0, length: 10 })
    expect(parseRange('bytes=90-', 100)).toEqual({ offset: 90, length: 10 })
    expect(parseRange('bytes=90-1000', 100)).toEqual({ offset: 90, length: 10 })
    expect(parseRange('bytes=-10', 100)).toEqual({ offset: 90, length: 10 })
    expect(parseRange('bytes=-1000', 100)).toEqual({ offset: 0, length: 100 })
    expect(parseRange(' Bytes = 5 - 5 ', 100)).toEqual({ offset: 5, length: 1 })
  })

  it('says unsatisfiable for ranges wholly past the end or empty', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable')
  })

  it('ignores what it does not serve: no header, other units, several ranges, nonsense', () => {
    for (const header of [undefined, 'items=0-1', 'bytes=0-1,4-5', 'bytes=5-2', 'bytes=-', 'bytes=a-b']) {
      expect(parseRange(header, 100), String(header)).toBeUndefined()
    }
  })
})
