import { describe, expect, it } from 'vitest'
import { defaultV8Flags } from '../src/v8-flags.js'

describe('defaultV8Flags', () => {
  const external = '--external-memory-accounted-in-global-limit'
  const growing = '--heap-growing-percent=100'
  const pretenure = '--no-allocation-site-pretenuring'

  it('counts external memory in the global GC limit, with the heap growing 2× at most, on Node 24', () => {
    expect(defaultV8Flags([], 24)).toEqual([external, growing, pretenure])
    expect(defaultV8Flags(['--enable-source-maps', '--max-old-space-size=512'], 25))
      .toEqual([external, growing, pretenure])
  })

  it("leaves the operator's own choice on the command line alone, either way and in either spelling", () => {
    expect(defaultV8Flags([external], 24)).toEqual([growing, pretenure])
    expect(defaultV8Flags(['--no-external-memory-accounted-in-global-limit'], 24)).toEqual([growing, pretenure])
    expect(defaultV8Flags(['--trace-gc', '--no_external_memory_accounted_in_global_limit'], 24))
      .toEqual([growing, pretenure])
    expect(defaultV8Flags(['--heap-growing-percent=0'], 24)).toEqual([external, pretenure])
    expect(defaultV8Flags(['--heap_growing_percent', '50', external, pretenure], 24)).toEqual([])
    // A default that turns a flag off is left alone when the operator turns it on.
    expect(defaultV8Flags(['--allocation-site-pretenuring'], 24)).toEqual([external, growing])
    expect(defaultV8Flags(['--allocation_site_pretenuring'], 24)).toEqual([external, growing])
  })

  it('sets nothing on older Node (a V8 that may not know the flags)', () => {
    expect(defaultV8Flags([], 22)).toEqual([])
  })
})
