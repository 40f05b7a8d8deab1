/**
 * A webhook's last delivery attempts in memory, as GET /webhooks/{id}/deliveries lists them: kept apart from
 * the webhook store (which owns writing them) because the ring's layout is about V8's heap, not webhooks.
 */

/** Attempts kept per webhook. */
export const KEPT_ATTEMPTS = 100

/** One delivery attempt, as GET /webhooks/{id}/deliveries lists it. */
export interface DeliveryAttempt {
  time: string
  event_id: string
  status_code: number | null
  latency_ms: number
  error: string | null
}

/**
 * A webhook's last attempts in memory: a ring of fields, times in ms (made RFC 3339 strings only when listed
 * or written). Fields, not an object per attempt: an attempt object kept for the next ~100 POSTs outlived
 * V8's young generation, so every POST (three per event) left one behind in the old one.
 */
export interface Ring {
  at: Float64Array
  ids: string[]
  status: Array<number | null>
  latency: Float64Array
  errors: Array<string | null>
  /** Where the next attempt goes, and how many are held. */
  next: number
  size: number
}

/** An empty ring. */
export const newRing = (): Ring => ({
  at: new Float64Array(KEPT_ATTEMPTS),
  ids: new Array<string>(KEPT_ATTEMPTS).fill(''),
  status: new Array<number | null>(KEPT_ATTEMPTS).fill(null),
  latency: new Float64Array(KEPT_ATTEMPTS),
  errors: new Array<string | null>(KEPT_ATTEMPTS).fill(null),
  next: 0,
  size: 0
})

/** Keeps an attempt, dropping the oldest beyond KEPT_ATTEMPTS. */
export function record (r: Ring, at: number, a: Omit<DeliveryAttempt, 'time'>): void {
  const i = r.next
  r.at[i] = at
  r.ids[i] = a.event_id
  r.status[i] = a.status_code
  r.latency[i] = a.latency_ms
  r.errors[i] = a.error
  r.next = (i + 1) % KEPT_ATTEMPTS
  r.size = Math.min(r.size + 1, KEPT_ATTEMPTS)
}

/** The attempts held, newest first. */
export function shown (r: Ring): DeliveryAttempt[] {
  const list: DeliveryAttempt[] = []
  for (let k = 1; k <= r.size; k++) {
    const i = (r.next - k + KEPT_ATTEMPTS) % KEPT_ATTEMPTS
    list.push({
      time: new Date(r.at[i] as number).toISOString(),
      event_id: r.ids[i] as string,
      status_code: r.status[i] ?? null,
      latency_ms: r.latency[i] as number,
      error: r.errors[i] ?? null
    })
  }
  return list
}
