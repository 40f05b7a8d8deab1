/**
 * Sizes in refusals read as the web page shows them (its rule, in web/app/dom.js), with the exact count beside:
 * a quota refusal said "6000000 bytes … 2942340 bytes left" while the Usage page said "2.19 MiB of 5 MiB".
 */
import { describe, expect, it } from 'vitest'
import { formatBytes } from '../src/byte-size.js'

describe('formatBytes', () => {
  it('gives binary units with the exact count, and only the count below 1 KiB', () => {
    expect(formatBytes(6_000_000)).toBe('5.72 MiB (6,000,000 bytes)')
    expect(formatBytes(2_942_340)).toBe('2.81 MiB (2,942,340 bytes)')
    expect(formatBytes(5 * 1024 * 1024)).toBe('5 MiB (5,242,880 bytes)')
    expect(formatBytes(1536)).toBe('1.5 KiB (1,536 bytes)')
    expect(formatBytes(64_000)).toBe('62.5 KiB (64,000 bytes)')
    expect(formatBytes(500 * 1024 * 1024 * 1024)).toBe('500 GiB (536,870,912,000 bytes)')
    expect(formatBytes(1000)).toBe('1,000 bytes')
    expect(formatBytes(1)).toBe('1 byte')
    expect(formatBytes(0)).toBe('0 bytes')
  })

  it('rounds as the Usage page does, value for value', async () => {
    // The page's own formatter (browser code, but bytes() touches no DOM), loaded as the browser would.
    const page = await import(new URL('../web/app/dom.js', import.meta.url).href) as { bytes: (n: number) => string }
    const samples = [1024, 1500, 10_239, 10_240, 102_399, 102_400, 1_048_575, 1_048_576, 2_300_000, 6_000_000,
      99 * 1024 * 1024, 1_048_575, 1_048_064, 7.5 * 1024 ** 4, 3 * 1024 ** 5, 5000 * 1024 ** 5]
    for (const n of samples) {
      expect(formatBytes(n), String(n)).toBe(`${page.bytes(n)} (${n.toLocaleString('en-US')} bytes)`)
    }
  })
})
