/**
 * RFC 3339 timestamps: parsing query bounds (any offset, any precision) and
 * formatting `created` (UTC, milliseconds).
 */
import type { z } from 'zod'

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/

/** A timestamp as the two whole milliseconds around it (equal when it is exact to the ms). */
export interface Bound { floor: number, ceil: number }

/** Parses an RFC 3339 timestamp, reporting a bad one on `ctx`. */
export function parseTimestamp (value: string, field: string, ctx: z.RefinementCtx): Bound {
  const m = RFC3339.exec(value)
  const base = m == null ? NaN : Date.parse(`${m[1]}T${m[2]}${(m[4] as string).toUpperCase()}`)
  // Date.parse rolls 2020-02-30 over to March: the fields must survive the round trip. That also
  // refuses a leap second (23:59:60), which RFC 3339 allows but no client produces: Go's time
  // (kubo's pin remote client), JS Date and Python datetime cannot hold one, and `created` never has one.
  const exact = m != null && !Number.isNaN(base) &&
    new Date(Date.parse(`${m[1]}T${m[2]}Z`)).toISOString().startsWith(`${m[1]}T${m[2]}`)
  if (m == null || Number.isNaN(base) || !exact) {
    ctx.addIssue({ code: 'custom', message: `${field} must be an RFC 3339 timestamp like 2020-07-27T17:32:28.276Z` })
    return { floor: 0, ceil: 0 }
  }
  const fraction = m[3] ?? ''
  const ms = Number((fraction + '000').slice(0, 3))
  const subMs = /[1-9]/.test(fraction.slice(3))
  const floor = base + ms
  return { floor, ceil: subMs ? floor + 1 : floor }
}

/** Formats milliseconds since the epoch as RFC 3339 in UTC with milliseconds. */
export function formatTimestamp (ms: number): string {
  return new Date(ms).toISOString()
}
