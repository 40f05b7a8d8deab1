/**
 * One JSON call to a running service's HTTP API, for the CLI's online
 * commands (team, tokens, webhooks): a Failure answer becomes a RemoteError
 * carrying its status and reason; an unreachable or silent service says so.
 */

/** Where the service is and who is asking. */
export interface RemoteCallInit {
  url: string
  token: string
  /** Per request, unless a call asks for another. */
  timeoutMs?: number
}

/**
 * The longest answer read: 64 MiB (a user in `GET /users` is ~240 bytes, so 100,000 are ~24 MB). A broken
 * or hostile server at PINERY_URL that answered without end was read until the timeout (60 s, 15 min for a
 * user deletion) into one string, until the CLI ran out of memory.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024

/** The answer's text, refused past `max` bytes. */
export async function answerText (res: Response, max = MAX_ANSWER_BYTES): Promise<string> {
  if (res.body == null) return ''
  const decoder = new TextDecoder()
  let text = ''
  let bytes = 0
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength
    // Leaving the loop cancels the body.
    if (bytes > max) throw new RemoteError(res.status, 'BAD_RESPONSE', `the answer is larger than ${max} bytes`)
    text += decoder.decode(chunk, { stream: true })
  }
  return text + decoder.decode()
}

/** A Failure answer of the service. */
export class RemoteError extends Error {
  static override name = 'RemoteError'
  override name = RemoteError.name
  constructor (readonly status: number, readonly reason: string, details: string) {
    super(`${reason} (${status}): ${details}`)
  }
}

/** The error for a request that got no answer at all (refused, reset, unresolvable). */
export function unreachable (base: string, err: unknown): Error {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  // fetch refuses some ports outright (6000, 6665–6669, 10080…: a browser's "bad port"), saying only "bad port".
  const why = cause?.message === 'bad port'
    ? 'fetch (and every browser) refuses to connect to that port: run the service on another PINERY_HTTP_PORT'
    : cause?.code ?? cause?.message ?? (err as Error).message
  return new Error(`cannot reach the service at ${base}: ${why}`)
}

/** A failed answer as a RemoteError: its Failure body's reason and details, or the raw text when it has none. */
export function failureOf (status: number, parsed: unknown, text: string): RemoteError {
  const failure = (parsed as { error?: { reason?: string, details?: string } } | undefined)?.error
  return new RemoteError(status, failure?.reason ?? 'ERROR', failure?.details ?? text.slice(0, 200))
}

/** A JSON call: `method path` with an optional JSON body; resolves with the parsed answer. */
export type RemoteCall = <T>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T>

/** Creates the call for the service at `init.url`. */
export function createRemoteCall (init: RemoteCallInit): RemoteCall {
  const base = init.url.replace(/\/+$/, '')
  async function call<T> (
    method: string, path: string, body?: unknown, timeoutMs = init.timeoutMs ?? 60_000
  ): Promise<T> {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${init.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {})
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs)
      })
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') {
        throw new Error(
          `no answer from ${base} within ${timeoutMs / 1000} s (the service may still finish the request)`)
      }
      throw unreachable(base, err)
    }
    if (res.status === 204) return undefined as T
    const text = await answerText(res)
    // DELETE /pins/{requestid} answers 202 without a body (the spec's answer).
    if (res.ok && text === '') return undefined as T
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new RemoteError(res.status, 'BAD_RESPONSE', `not JSON: ${text.slice(0, 200)}`)
    }
    if (!res.ok) throw failureOf(res.status, parsed, text)
    return parsed as T
  }
  return call
}
