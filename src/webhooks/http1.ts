/**
 * A small HTTP/1.1 client for webhook POSTs: one request per connection at a
 * time, idle connections kept per origin for a short while, the answer read
 * only as far as its status and (to keep the connection) its framing.
 *
 * Hand-written instead of node:http or undici because delivery is the main
 * cost of notifications: per POST to a local receiver, client CPU was
 * node:http (keep-alive agent) 70 µs, undici `Client` 60 µs (also with
 * pipelining), this client 22 µs (15,000 POSTs each, 2026-11-30). With three
 * webhooks that is three POSTs per event, on the same thread as pinning.
 */
import { connect as netConnect, type LookupFunction, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

/** One POST to make. */
export interface PostRequest {
  url: URL
  /** Header lines (lower-case names); host and content-length are added. */
  headers: Record<string, string>
  /** The JSON sent. */
  body: string
  timeoutMs: number
  /** At most this many bytes of the answer are read. */
  maxResponseBytes: number
  /** Resolves host names (the target policy's checked lookup). */
  lookup?: LookupFunction
  signal?: AbortSignal
}

/** What came of it: the status when the receiver answered, else why not. */
export interface PostResult { status?: number, error?: string }

/** How long an idle connection is kept (below common servers' keep-alive timeouts, e.g. Node's 5 s). */
const IDLE_MS = 2000
/** Idle connections kept per origin. */
const MAX_IDLE = 32

interface Conn {
  socket: Socket
  key: string
  /** Where the socket's events go while a request uses it. */
  onData?: (chunk: Buffer) => void
  onEnd?: (err?: Error) => void
  idleTimer?: NodeJS.Timeout
}

/** How far an answer has been read. */
interface Parsed { status?: number, done: boolean, reusable: boolean, untilClose: boolean }

/** Parses what has arrived of an answer (`acc`); `done` once it is complete. */
export function parseAnswer (acc: Buffer): Parsed {
  let off = 0
  let status: number | undefined
  for (;;) {
    const end = acc.indexOf('\r\n\r\n', off, 'latin1')
    if (end < 0) return { status, done: false, reusable: false, untilClose: false }
    const lines = acc.toString('latin1', off, end).split('\r\n')
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '')
    if (m == null) throw new Error('not an HTTP/1.x answer')
    status = Number(m[2])
    off = end + 4
    // Interim answers (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200) continue
    let length: number | undefined
    let chunked = false
    let close = m[1] === '0'
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim().toLowerCase()
      if (name === 'content-length') length = Number(value)
      else if (name === 'transfer-encoding') chunked = value.endsWith('chunked')
      else if (name === 'connection') close = value.includes('close') || (m[1] === '0' && !value.includes('keep-alive'))
    }
    if (status === 204 || status === 304) {
      return { status, done: true, reusable: !close && acc.length === off, untilClose: false }
    }
    if (chunked) {
      const used = chunkedEnd(acc, off)
      return used < 0
        ? { status, done: false, reusable: false, untilClose: false }
        : { status, done: true, reusable: !close && used === acc.length, untilClose: false }
    }
    if (length != null && Number.isSafeInteger(length) && length >= 0) {
      const done = acc.length >= off + length
      return { status, done, reusable: done && !close && acc.length === off + length, untilClose: false }
    }
    return { status, done: false, reusable: false, untilClose: true }
  }
}

/** Where a chunked body starting at `off` ends (after its trailers), or -1 when it has not all arrived. */
function chunkedEnd (acc: Buffer, off: number): number {
  for (;;) {
    const eol = acc.indexOf('\r\n', off, 'latin1')
    if (eol < 0) return -1
    const size = parseInt(acc.toString('latin1', off, eol).split(';')[0] ?? '', 16)
    if (Number.isNaN(size)) throw new Error('bad chunk size')
    if (size === 0) {
      // Trailers, then an empty line.
      let at = eol + 2
      for (;;) {
        const next = acc.indexOf('\r\n', at, 'latin1')
        if (next < 0) return -1
        if (next === at) return next + 2
        at = next + 2
      }
    }
    off = eol + 2 + size + 2
    if (off > acc.length) return -1
  }
}

/** POSTs over kept-alive connections. */
export interface Http1Client {
  post(req: PostRequest): Promise<PostResult>
  /** Closes the idle connections. */
  close(): void
}

/** Creates a client with its own pool of idle connections. */
export function createHttp1Client (): Http1Client {
  const idle = new Map<string, Conn[]>()

  function open (url: URL, lookup?: LookupFunction): Conn {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const https = url.protocol === 'https:'
    const port = Number(url.port !== '' ? url.port : https ? 443 : 80)
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host
    const socket = https
      ? tlsConnect({ host, port, servername, lookup, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port, lookup, noDelay: true })
    const conn: Conn = { socket, key: `${url.protocol}//${url.host}` }
    socket.on('data', (chunk: Buffer) => { if (conn.onData != null) conn.onData(chunk); else socket.destroy() })
    socket.on('error', (err) => { conn.onEnd?.(err) })
    socket.on('close', () => { conn.onEnd?.(); forget(conn) })
    return conn
  }

  function forget (conn: Conn): void {
    clearTimeout(conn.idleTimer)
    const list = idle.get(conn.key)
    const at = list?.indexOf(conn) ?? -1
    if (list != null && at >= 0) { list.splice(at, 1); if (list.length === 0) idle.delete(conn.key) }
  }

  function release (conn: Conn): void {
    conn.onData = undefined
    conn.onEnd = undefined
    const list = idle.get(conn.key) ?? []
    if (list.length >= MAX_IDLE || conn.socket.destroyed) { conn.socket.destroy(); return }
    list.push(conn)
    idle.set(conn.key, list)
    conn.socket.unref()
    conn.idleTimer = setTimeout(() => { conn.socket.destroy() }, IDLE_MS)
    conn.idleTimer.unref()
  }

  function take (key: string): Conn | undefined {
    const conn = idle.get(key)?.pop()
    if (conn == null) return undefined
    forget(conn)
    conn.socket.ref()
    return conn
  }

  /** One attempt on `conn`; `stale` when a reused connection closed before any byte of an answer. */
  async function once (conn: Conn, req: PostRequest, head: string): Promise<PostResult & { stale?: boolean }> {
    const reused = conn.socket.readyState === 'open'
    return await new Promise((resolve) => {
      let acc: Buffer | undefined
      let parsed: Parsed = { done: false, reusable: false, untilClose: false }
      let settled = false
      const finish = (r: PostResult & { stale?: boolean }, reusable = false): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.signal?.removeEventListener('abort', onAbort)
        if (reusable) release(conn)
        else { conn.onData = undefined; conn.onEnd = undefined; conn.socket.destroy() }
        resolve(r)
      }
      conn.onData = (chunk) => {
        acc = acc == null ? chunk : Buffer.concat([acc, chunk])
        try {
          parsed = parseAnswer(acc)
        } catch (err) {
          finish({ error: `bad answer: ${(err as Error).message}` })
          return
        }
        if (parsed.done) finish({ status: parsed.status }, parsed.reusable)
        else if (acc.length >= req.maxResponseBytes) {
          finish(parsed.status != null ? { status: parsed.status } : { error: 'the answer\'s head is too large' })
        }
      }
      conn.onEnd = (err) => {
        if (parsed.status != null && (parsed.untilClose || err == null)) { finish({ status: parsed.status }); return }
        if (acc == null && reused) { finish({ error: 'closed', stale: true }); return }
        const e = err as NodeJS.ErrnoException | undefined
        if (e?.name === 'InvalidRequestError') finish({ error: `refused: ${e.message}` })
        else if (e != null) finish({ error: `${e.code ?? 'error'}: ${e.message}` })
        else finish({ error: 'the connection closed before an answer' })
      }
      const timer = setTimeout(() => { finish({ error: `no answer within ${req.timeoutMs} ms` }) }, req.timeoutMs)
      const onAbort = (): void => { finish({ error: 'cancelled' }) }
      req.signal?.addEventListener('abort', onAbort, { once: true })
      if (req.signal?.aborted === true) { onAbort(); return }
      conn.socket.write(head + req.body)
    })
  }

  return {
    async post (req) {
      const key = `${req.url.protocol}//${req.url.host}`
      let head = `POST ${req.url.pathname}${req.url.search} HTTP/1.1\r\nhost: ${req.url.host}\r\n` +
        `content-length: ${Buffer.byteLength(req.body)}\r\n`
      for (const [name, value] of Object.entries(req.headers)) head += `${name}: ${value}\r\n`
      head += '\r\n'
      const kept = take(key)
      if (kept != null) {
        const r = await once(kept, req, head)
        // A kept connection the server had just closed: try once more on a new one.
        if (r.stale !== true) return r
      }
      return await once(open(req.url, req.lookup), req, head)
    },
    close () {
      for (const list of idle.values()) for (const conn of [...list]) conn.socket.destroy()
      idle.clear()
    }
  }
}
