/**
 * Byte counts in refusals as people read them, by the rule the web page shows sizes with (web/app/dom.js
 * `bytes`, browser code: the rule is kept, not the code): binary units, two decimals below 10, one below 100,
 * none above, trailing zeros dropped; the exact count beside it. A quota refusal read "6000000 bytes … 2942340
 * bytes left" while the Usage page said "2.19 MiB of 5 MiB"; now "5.72 MiB (6,000,000 bytes)".
 */
const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** 6000000 → "5.72 MiB (6,000,000 bytes)"; below 1 KiB only the count ("512 bytes", "1 byte"). */
export function formatBytes (n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Math.abs(n) < 1024) return n === 1 ? '1 byte' : `${GROUPED.format(n)} bytes`
  let v = n
  let u = 0
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) { v /= 1024; u++ }
  const a = Math.abs(v)
  return `${Number(v.toFixed(a < 10 ? 2 : a < 100 ? 1 : 0))} ${UNITS[u] as string} (${GROUPED.format(n)} bytes)`
}
