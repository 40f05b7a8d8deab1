import { describe, expect, it } from 'vitest'
import { defaultV8Flags } from '../src/v8-flags.js'

describe('defaultV8Flags', () => {
  const flag = '--external-memory-accounted-in-global-limit'

  it('turns on external memory in the global GC limit on Node 24', () => {
    expect(defaultV8Flags([], 24)).toEqual([flag])
    expect(defaultV8Flags(['--enable-source-maps', '--max-old-space-size=512'], 25)).toEqual([flag])
  })

  it("leaves the operator's own choice on the command line alone, either way and in either spelling", () => {
    expect(defaultV8Flags([flag], 24)).toEqual([])
    expect(defaultV8Flags(['--no-external-memory-accounted-in-global-limit'], 24)).toEqual([])
    expect(defaultV8Flags(['--trace-gc', '--no_external_memory_accounted_in_global_limit'], 24)).toEqual([])
  })

  it('sets nothing on older Node (a V8 that may not know the flag)', () => {
    expect(defaultV8Flags([], 22)).toEqual([])
  })
})
