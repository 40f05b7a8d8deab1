/**
 * `pinery wait ID…`: waits until pin requests settle, for a CI job that pinned a build and must not go on
 * before it is pinned (before, it looped on GET /pins/{requestid}). The stream of the requests' events is
 * opened first (GET /events?requestid=…, which also follows a request's replacements), then each request is
 * read once (it may have settled before the stream opened), then the stream is read until each has settled.
 */
import { answerText, createRemoteCall, failureOf, RemoteError, unreachable } from './remote-call.js'
import type { PinStatusBody } from '../http/pin-status.js'

/** Where the service is and who is asking. */
export interface WaitInit {
  url: string
  token: string
  /** Give up after this long (exit code 1, saying what each request still is); none: wait as long as it takes. */
  timeoutMs?: number
  /** Told once the stream is open and each request read, what is still waited for (a CI log shows why it waits). */
  waiting?: (line: string) => void
}

/** How each request ended: its last PinStatus (a replacement's, when it was replaced), or `deleted`. */
export interface WaitOutcome {
  json: Array<{ requestid: string, status: string, pin?: PinStatusBody }>
  text: string
  /** 0: every request pinned; 1: one failed, was deleted, or did not settle in time. */
  code: number
}

/** The longest frame read from the stream: a PinStatus is at most ~30 KB (meta, origins, delegates). */
const MAX_FRAME_BYTES = 1024 * 1024
/** Where waiting ends. */
const ENDED = new Set(['pinned', 'failed', 'deleted', 'not found'])

/** One request waited for: the request it is now (a replacement's id once replaced), its status and PinStatus. */
interface Waiting { current: string, status: string, pin?: PinStatusBody }

/** Waits for `ids` (at most 10, as GET /events takes) to settle. */
export async function runWait (init: WaitInit, ids: string[]): Promise<WaitOutcome> {
  const base = init.url.replace(/\/+$/, '')
  const call = createRemoteCall({ url: base, token: init.token })
  /** Per request asked about: its current request (a replacement's id once replaced) and last PinStatus. */
  const now = new Map<string, Waiting>(ids.map(id => [id, { current: id, status: 'queued' }]))
  const deadline = init.timeoutMs != null ? AbortSignal.timeout(init.timeoutMs) : new AbortController().signal
  const started = Date.now()
  /** What is left of --timeout, for the reads (remote-call's own 60 s would outlast it); undefined: no bound. */
  const left = (): number | undefined =>
    init.timeoutMs == null ? undefined : Math.max(1, init.timeoutMs - (Date.now() - started))
  const late = (): boolean => deadline.aborted || (init.timeoutMs != null && Date.now() - started >= init.timeoutMs)
  const stop = new AbortController()
  const signal = AbortSignal.any([deadline, stop.signal])
  const types = 'pin.pinned,pin.failed,pin.replaced,pin.deleted'
  const query = `requestid=${ids.map(encodeURIComponent).join(',')}&types=${types}`
  let res: Response
  try {
    res = await fetch(`${base}/events?${query}`, {
      headers: { authorization: `Bearer ${init.token}`, accept: 'text/event-stream' }, signal
    })
  } catch (err) {
    if (deadline.aborted) return outcome(now, init.timeoutMs)
    throw unreachable(base, err)
  }
  if (res.status !== 200) {
    const text = await answerText(res, MAX_FRAME_BYTES)
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch {}
    throw failureOf(res.status, parsed, text)
  }
  const settle = (asked: string, event: string, pin: PinStatusBody): void => {
    const entry = now.get(asked)
    if (entry == null) return
    entry.status = event === 'pin.deleted' ? 'deleted' : pin.status
    entry.pin = pin
  }
  const open = (): boolean => [...now.values()].some(e => !ENDED.has(e.status))
  try {
    for (const id of ids) {
      try {
        const read = await call<unknown>('GET', `/pins/${encodeURIComponent(id)}`, undefined, left())
        settle(id, 'read', pinStatusOf(read))
      } catch (err) {
        // Replaced or deleted before the stream opened (or never made): nothing more will come for it.
        if ((err as RemoteError).status !== 404) throw err
        ;(now.get(id) as Waiting).status = 'not found'
      }
    }
    if (open()) {
      init.waiting?.(`waiting for ${[...now].filter(([, e]) => !ENDED.has(e.status))
        .map(([id, e]) => `${id} (${e.status})`).join(', ')}`)
      for await (const { event, data } of frames(res, signal)) {
        const e = eventOf(data)
        const asked = [...now].find(([, v]) => v.current === e.pin.requestid)?.[0]
        if (asked == null) continue
        if (event === 'pin.replaced' && e.replaced_by != null) {
          (now.get(asked) as Waiting).current = e.replaced_by
          continue
        }
        settle(asked, event, e.pin)
        if (!open()) break
      }
      if (open() && !deadline.aborted) throw new RemoteError(res.status, 'STREAM_ENDED', 'the event stream ended')
    }
  } catch (err) {
    if (!late()) throw err
  } finally {
    stop.abort()
  }
  return outcome(now, late() ? init.timeoutMs : undefined)
}

/** A PinStatus as answered, its shape checked (a broken or hostile server at --url). */
function pinStatusOf (value: unknown): PinStatusBody {
  const pin = value as PinStatusBody | undefined
  if (typeof pin?.requestid !== 'string' || typeof pin.status !== 'string') {
    throw new RemoteError(200, 'BAD_RESPONSE', 'a request without its requestid or status')
  }
  return pin
}

/** An event frame's data, its shape checked. */
function eventOf (data: string): { pin: PinStatusBody, replaced_by?: string } {
  let e: { pin?: unknown, replaced_by?: unknown } | undefined
  try { e = JSON.parse(data) as typeof e } catch {}
  if (e?.pin == null || (e.replaced_by != null && typeof e.replaced_by !== 'string')) {
    throw new RemoteError(200, 'BAD_RESPONSE', 'an event without its request')
  }
  return { pin: pinStatusOf(e.pin), ...(e.replaced_by != null ? { replaced_by: e.replaced_by as string } : {}) }
}

/** The stream's frames (event name and data), each bounded. */
async function * frames (res: Response, signal: AbortSignal): AsyncGenerator<{ event: string, data: string }> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    if (signal.aborted) return
    buffer += decoder.decode(chunk, { stream: true })
    if (buffer.length > MAX_FRAME_BYTES) throw new RemoteError(res.status, 'BAD_RESPONSE', 'an event is too large')
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = ''
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (event === 'disconnect') {
        throw new RemoteError(res.status, 'STREAM_ENDED', `the service ended the stream: ${data}`)
      }
      if (event.startsWith('pin.')) yield { event, data }
    }
  }
}

/** What the wait found, for people and (--json) scripts. */
function outcome (now: Map<string, Waiting>, timedOutMs?: number): WaitOutcome {
  const lines: string[] = []
  for (const [asked, e] of now) {
    const id = e.current === asked ? asked : `${asked} (replaced by ${e.current})`
    const details = e.pin?.info.status_details
    const late = timedOutMs != null && !ENDED.has(e.status)
    lines.push(`${id} ${late ? `still ${e.status} after ${timedOutMs / 1000} s` : e.status}` +
      (e.status === 'failed' && details != null ? `: ${details}` : ''))
  }
  const pinned = [...now.values()].every(e => e.status === 'pinned')
  return {
    json: [...now.values()]
      .map(e => ({ requestid: e.current, status: e.status, ...(e.pin != null ? { pin: e.pin } : {}) })),
    text: lines.join('\n') + '\n',
    code: pinned ? 0 : 1
  }
}
