/**
 * One webhook delivery: a signed POST of an event's JSON. Redirects are not
 * followed (a 3xx is a failure), the whole attempt has a timeout, and at most
 * 64 KiB of the answer is read. The connection goes through the target
 * policy's lookup, so only checked addresses are ever connected to.
 */
import { createHmac } from 'node:crypto'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import type { TargetPolicy } from './target-policy.js'

// Connections are kept open between deliveries; each was made to an address the policy checked.
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 32 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 32 })
}

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
  const body = Buffer.from(d.body)
  const headers = {
    'content-type': 'application/json',
    'content-length': String(body.byteLength),
    'user-agent': 'Pinery-Webhooks/1',
    'pinery-event-id': d.eventId,
    'pinery-signature': signature(d.secret, d.body, Math.floor(Date.now() / 1000))
  }
  const https = url.protocol === 'https:'
  const request = https ? httpsRequest : httpRequest
  return await new Promise<AttemptResult>((resolve) => {
    let settled = false
    // A connection whose answer was read to its end goes back to the pool; any other is closed.
    const finish = (r: Omit<AttemptResult, 'latencyMs'>, reusable = false): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      d.signal?.removeEventListener('abort', onAbort)
      if (!reusable) req.destroy()
      resolve(done(r))
    }
    const agent = https ? agents.https : agents.http
    const req = request(url, { method: 'POST', headers, lookup: d.policy.lookup, agent }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      let read = 0
      res.on('data', (chunk: Buffer) => {
        read += chunk.byteLength
        if (read >= MAX_RESPONSE_BYTES) finish(result(status))
      })
      res.on('end', () => { finish(result(status), true) })
      res.on('error', () => { finish(result(status)) })
    })
    const result = (status: number): Omit<AttemptResult, 'latencyMs'> => status >= 200 && status < 300
      ? { ok: true, status }
      : {
          ok: false,
          status,
          error: `answered ${status}${status >= 300 && status < 400 ? '; redirects are not followed' : ''}`
        }
    const timer = setTimeout(() => { finish({ ok: false, error: `no answer within ${d.timeoutMs} ms` }) }, d.timeoutMs)
    const onAbort = (): void => { finish({ ok: false, error: 'cancelled' }) }
    d.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err: NodeJS.ErrnoException) => {
      const error = err.name === 'InvalidRequestError'
        ? `refused: ${err.message}`
        : `${err.code ?? 'error'}: ${err.message}`
      finish({ ok: false, error })
    })
    req.end(body)
  })
}
