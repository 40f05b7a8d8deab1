/**
 * One webhook delivery: a signed POST of an event's JSON. Redirects are not
 * followed (a 3xx is a failure), the whole attempt has a timeout, and at most
 * 64 KiB of the answer is read. The connection goes through the target
 * policy's lookup, so only checked addresses are ever connected to.
 */
import { createHmac } from 'node:crypto'
import { isIP } from 'node:net'
import { createHttp1Client } from './http1.js'
import type { TargetPolicy } from './target-policy.js'

// Connections are kept open between deliveries; each was made to an address the policy checked.
const client = createHttp1Client()

/** At most this much of a receiver's answer is read. */
export const MAX_RESPONSE_BYTES = 64 * 1024

/** What one attempt came to. */
export interface AttemptResult {
  ok: boolean
  /** The receiver's status code, when it answered. */
  status?: number
  latencyMs: number
  error?: string
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signature (secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')
  return `t=${unixSeconds},v1=${mac}`
}

/** A delivery to make. */
export interface Delivery {
  url: string
  secret: string
  eventId: string
  body: string
  timeoutMs: number
  policy: Pick<TargetPolicy, 'lookup' | 'refusal'>
  signal?: AbortSignal
  /** Not pipelined with other deliveries (a retry). */
  alone?: boolean
}

/** POSTs the event; never throws. */
export async function deliver (d: Delivery): Promise<AttemptResult> {
  const started = performance.now()
  const done = (r: Omit<AttemptResult, 'latencyMs'>): AttemptResult =>
    ({ ...r, latencyMs: Math.round(performance.now() - started) })
  let url: URL
  try { url = new URL(d.url) } catch { return done({ ok: false, error: 'the URL is not valid' }) }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  // An address literal never goes through lookup: check it here.
  if (isIP(host) !== 0) {
    const why = d.policy.refusal(host, host)
    if (why != null) return done({ ok: false, error: `refused: ${why}` })
  }
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Pinery-Webhooks/1',
    'pinery-event-id': d.eventId,
    'pinery-signature': signature(d.secret, d.body, Math.floor(Date.now() / 1000))
  }
  const { status, error } = await client.post({
    url,
    headers,
    body: d.body,
    timeoutMs: d.timeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    lookup: d.policy.lookup,
    ...(d.signal != null ? { signal: d.signal } : {}),
    alone: d.alone === true
  })
  if (status == null) return done({ ok: false, error: error ?? 'failed' })
  if (status >= 200 && status < 300) return done({ ok: true, status })
  const redirect = status >= 300 && status < 400 ? '; redirects are not followed' : ''
  return done({ ok: false, status, error: `answered ${status}${redirect}` })
}
