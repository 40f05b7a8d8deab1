/**
 * One webhook delivery: a signed POST of an event's JSON. Redirects are not
 * followed (a 3xx is a failure), the whole attempt has a timeout, and at most
 * 64 KiB of the answer is read. The connection goes through the target
 * policy's lookup, so only checked addresses are ever connected to.
 *
 * A webhook's URL and signing key are prepared once (`prepare`) for its many
 * deliveries, and an event's bytes are shared by every webhook it goes to:
 * with three webhooks the outbox makes three POSTs per event on the pinning
 * thread, so what can be done once per webhook or per event is.
 */
import { hash } from 'node:crypto'
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

/**
 * A webhook's secret as HMAC-SHA256 keys (RFC 2104): the key XOR ipad, followed by room for `"<t>.<body>"`,
 * and the key XOR opad, followed by room for the inner digest. Made once per webhook: each signature is then
 * two one-shot `crypto.hash` calls. `createHmac` with a `KeyObject` made a JS object, a native handle and a
 * digest lookup per POST: 1.56 against 1.40 µs per signature in a micro-benchmark (CPU time, medians of 5;
 * a raw `Buffer` key 9.9 µs); in bench:events its constructor alone was 53 of the main thread's ms (perf), and
 * bench:webhook-cost's delivering process takes 11.8 against 12.0 CPU-µs per POST (medians of 4, round twelve).
 * Checked against `createHmac` in test/webhooks/signature.test.ts.
 */
export interface SigningKey {
  inner: Buffer
  outer: Buffer
}

const BLOCK = 64

/** The signing key of `secret`. */
export function signingKey (secret: string): SigningKey {
  let k = Buffer.from(secret)
  if (k.length > BLOCK) k = hash('sha256', k, 'buffer')
  const inner = Buffer.alloc(BLOCK + 2048)
  const outer = Buffer.alloc(BLOCK + 32)
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = (k[i] ?? 0) ^ 0x36
    outer[i] = (k[i] ?? 0) ^ 0x5c
  }
  return { inner, outer }
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signature (key: SigningKey, body: Uint8Array, unixSeconds: number): string {
  const t = `${unixSeconds}.`
  const end = BLOCK + t.length + body.byteLength
  if (key.inner.length < end) {
    const grown = Buffer.alloc(end * 2)
    key.inner.copy(grown, 0, 0, BLOCK)
    key.inner = grown
  }
  key.inner.write(t, BLOCK, 'latin1')
  key.inner.set(body, BLOCK + t.length)
  // The inner digest as a latin1 ('binary') string, not a Buffer: a Buffer result is a new ArrayBuffer per call,
  // which cost more than the hash (1.52 against 0.95 µs per signature, 568-byte body, medians of 7, round thirteen).
  key.outer.write(hash('sha256', key.inner.subarray(0, end), 'binary'), BLOCK, 'latin1')
  return `t=${unixSeconds},v1=${hash('sha256', key.outer, 'hex')}`
}

/** A webhook's URL, checked, and its signing key: prepared once for all its deliveries. */
export interface Target {
  url?: URL
  /** Why it can never be delivered to (the URL is not valid, or an address literal is refused). */
  error?: string
  key: SigningKey
  lookup: TargetPolicy['lookup']
}

/** Parses and checks `url` (an address literal never goes through lookup: it is checked here). */
export function prepare (url: string, secret: string, policy: Pick<TargetPolicy, 'lookup' | 'refusal'>): Target {
  const key = signingKey(secret)
  let parsed: URL
  try { parsed = new URL(url) } catch { return { error: 'the URL is not valid', key, lookup: policy.lookup } }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  const why = isIP(host) !== 0 ? policy.refusal(host, host) : undefined
  if (why != null) return { error: `refused: ${why}`, key, lookup: policy.lookup }
  return { url: parsed, key, lookup: policy.lookup }
}

/** One event to send to a prepared target. */
export interface Send {
  eventId: string
  body: Uint8Array
  timeoutMs: number
  signal?: AbortSignal
  /** Not pipelined with other deliveries (a retry). */
  alone?: boolean
}

const FIXED_HEADERS = 'content-type: application/json\r\nuser-agent: Pinery-Webhooks/1\r\n'

/** POSTs the event to `target`; never throws. */
export async function send (target: Target, s: Send): Promise<AttemptResult> {
  return await new Promise<AttemptResult>(resolve => { sendTo(target, s, resolve) })
}

/**
 * `send` with a callback: the outbox's path, without the promises of `send` and the client's `post` per
 * delivery (three per event with three webhooks).
 */
export function sendTo (target: Target, s: Send, done: (r: AttemptResult) => void): void {
  const started = performance.now()
  if (target.url == null) { done(resultOf(started, undefined, target.error ?? 'the URL is not valid')); return }
  const headers = `${FIXED_HEADERS}pinery-event-id: ${s.eventId}\r\n` +
    `pinery-signature: ${signature(target.key, s.body, Math.floor(Date.now() / 1000))}\r\n`
  // One object of one shape per POST (a spread made another, and a shape per case).
  client.send({
    url: target.url,
    headers,
    body: s.body,
    timeoutMs: s.timeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    lookup: target.lookup,
    signal: s.signal,
    alone: s.alone === true
  }, ({ status, error }) => { done(resultOf(started, status, error)) })
}

function resultOf (started: number, status: number | undefined, error: string | undefined): AttemptResult {
  const latencyMs = Math.round(performance.now() - started)
  if (status == null) return { ok: false, latencyMs, error: error ?? 'failed' }
  if (status >= 200 && status < 300) return { ok: true, status, latencyMs }
  const redirect = status >= 300 && status < 400 ? '; redirects are not followed' : ''
  return { ok: false, status, latencyMs, error: `answered ${status}${redirect}` }
}

/** A one-off delivery (the test event). */
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

/** Prepares the target and POSTs the event; never throws. */
export async function deliver (d: Delivery): Promise<AttemptResult> {
  const { eventId, timeoutMs, signal, alone } = d
  return await send(prepare(d.url, d.secret, d.policy),
    { eventId, body: Buffer.from(d.body), timeoutMs, ...(signal != null ? { signal } : {}), alone: alone === true })
}
