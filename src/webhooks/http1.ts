/**
 * A small HTTP/1.1 client for webhook POSTs: requests to one origin made in
 * the same turn are written at once on one connection (pipelined, at most 32;
 * a request marked `alone`, a retry, goes on its own), idle connections are
 * kept per origin for a short while, and each answer is read only as far as
 * its status and (to keep the connection) its framing. A request a closing
 * connection left unanswered is sent once more on a new connection.
 *
 * Hand-written instead of node:http or undici because delivery is the main
 * cost of notifications: per POST to a local receiver, client CPU was
 * node:http (keep-alive agent) 70 µs, undici `Client` 60 µs (also with
 * pipelining), this client 22 µs one at a time and 15 µs pipelined 8 deep
 * (15,000 POSTs each, 2026-11-30). With three webhooks that is three POSTs
 * per event, on the same thread as pinning; pipelining also wakes each
 * receiver once per batch instead of once per POST.
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
  /** On its own connection, not pipelined (for retries: a receiver that mishandles pipelining still gets them). */
  alone?: boolean
}

/** What came of it: the status when the receiver answered, else why not. */
export interface PostResult { status?: number, error?: string }

/** How long an idle connection is kept (below common servers' keep-alive timeouts, e.g. Node's 5 s). */
const IDLE_MS = 2000
/** Idle connections kept per origin. */
const MAX_IDLE = 32

/** Requests written at once on one connection, at most (their answers come back in order). */
const PIPELINE = 32

interface Job {
  req: PostRequest
  /** Head and body, as written. */
  text: string
  resolve: (r: PostResult) => void
  done: boolean
  timer: NodeJS.Timeout
  conn?: Conn
  /** Sent again after a connection closed before answering it; goes on a new connection. */
  retried: boolean
}

interface Conn {
  socket: Socket
  key: string
  /** Written and not answered yet, in order. */
  jobs: Job[]
  /** What has arrived of the first job's answer. */
  acc?: Buffer
  parsed?: Parsed
  /** Answers read on it (a close after one means the server ended it: the rest may be sent again). */
  answered: number
  reused: boolean
  idleTimer?: NodeJS.Timeout
}

/** How far an answer has been read: once `done`, it took `used` bytes; `close`: the server ends the connection. */
export interface Parsed { status?: number, done: boolean, used: number, close: boolean, untilClose: boolean }

/** Parses what has arrived of an answer (`acc`); `done` once it is complete. */
export function parseAnswer (acc: Buffer): Parsed {
  let off = 0
  let status: number | undefined
  for (;;) {
    const end = acc.indexOf('\r\n\r\n', off, 'latin1')
    if (end < 0) return { status, done: false, used: 0, close: false, untilClose: false }
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
      if (name === 'content-length') length = /^\d{1,15}$/.test(value) ? Number(value) : NaN
      else if (name === 'transfer-encoding') chunked = value.endsWith('chunked')
      else if (name === 'connection') close = value.includes('close') || (m[1] === '0' && !value.includes('keep-alive'))
    }
    if (status === 204 || status === 304) return { status, done: true, used: off, close, untilClose: false }
    if (chunked) {
      const used = chunkedEnd(acc, off)
      return { status, done: used >= 0, used: Math.max(used, 0), close, untilClose: false }
    }
    if (length != null && Number.isSafeInteger(length) && length >= 0) {
      return { status, done: acc.length >= off + length, used: off + length, close, untilClose: false }
    }
    return { status, done: false, used: 0, close: true, untilClose: true }
  }
}

/** A chunk's size: 1–8 hex digits (an answer is read 64 KiB at most anyway). */
const CHUNK_SIZE = /^[0-9a-fA-F]{1,8}$/

/** Where a chunked body starting at `off` ends (after its trailers), or -1 when it has not all arrived. */
function chunkedEnd (acc: Buffer, off: number): number {
  for (;;) {
    const eol = acc.indexOf('\r\n', off, 'latin1')
    if (eol < 0) return -1
    // Hex digits only: parseInt would take "-6", which moves `off` back onto this line, for ever.
    const token = acc.toString('latin1', off, eol).split(';')[0]?.trim() ?? ''
    if (!CHUNK_SIZE.test(token)) throw new Error('bad chunk size')
    const size = parseInt(token, 16)
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

function errorOf (err?: Error): string {
  const e = err as NodeJS.ErrnoException | undefined
  if (e?.name === 'InvalidRequestError') return `refused: ${e.message}`
  if (e != null) return `${e.code ?? 'error'}: ${e.message}`
  return 'the connection closed before an answer'
}

/** Creates a client with its own pool of idle connections. */
export function createHttp1Client (): Http1Client {
  const idle = new Map<string, Conn[]>()
  const waiting = new Map<string, Job[]>()

  function settle (job: Job, r: PostResult): void {
    if (job.done) return
    job.done = true
    clearTimeout(job.timer)
    job.resolve(r)
    // An answer out of turn would be misread: the connection cannot carry the rest.
    if (job.conn?.jobs.includes(job) === true) job.conn.socket.destroy()
  }
  /** An abort listener, one per signal (the same function is added once), cancelling its requests. */
  function cancel (this: AbortSignal): void {
    const jobs = [...[...waiting.values()].flat(), ...[...live].flatMap(conn => conn.jobs)]
    for (const job of jobs) if (job.req.signal === this) settle(job, { error: 'cancelled' })
  }
  const live = new Set<Conn>()

  function open (url: URL, lookup?: LookupFunction): Conn {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const https = url.protocol === 'https:'
    const port = Number(url.port !== '' ? url.port : https ? 443 : 80)
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host
    const socket = https
      ? tlsConnect({ host, port, servername, lookup, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port, lookup, noDelay: true })
    const conn: Conn = { socket, key: `${url.protocol}//${url.host}`, jobs: [], answered: 0, reused: false }
    live.add(conn)
    let failure: Error | undefined
    socket.on('data', (chunk: Buffer) => { onData(conn, chunk) })
    socket.on('error', (err) => { failure = err })
    socket.on('close', () => { onClose(conn, failure) })
    return conn
  }

  function onData (conn: Conn, chunk: Buffer): void {
    conn.acc = conn.acc == null ? chunk : Buffer.concat([conn.acc, chunk])
    while (conn.acc != null) {
      const job = conn.jobs[0]
      if (job == null) { conn.socket.destroy(); return }
      let parsed: Parsed
      try {
        parsed = conn.parsed = parseAnswer(conn.acc)
      } catch (err) {
        conn.jobs.shift()
        settle(job, { error: `bad answer: ${(err as Error).message}` })
        conn.socket.destroy()
        return
      }
      if (!parsed.done) {
        if (conn.acc.length < job.req.maxResponseBytes) return
        conn.jobs.shift()
        settle(job, parsed.status != null ? { status: parsed.status } : { error: 'the answer\'s head is too large' })
        conn.answered++
        conn.socket.destroy()
        return
      }
      conn.jobs.shift()
      settle(job, { status: parsed.status })
      conn.answered++
      conn.acc = parsed.used < conn.acc.length ? conn.acc.subarray(parsed.used) : undefined
      conn.parsed = undefined
      if (parsed.close) { conn.socket.destroy(); return }
    }
    if (conn.jobs.length === 0) release(conn)
  }

  function onClose (conn: Conn, err?: Error): void {
    live.delete(conn)
    forget(conn)
    const jobs = conn.jobs
    conn.jobs = []
    const parsed = conn.parsed
    for (const [i, job] of jobs.entries()) {
      if (job.done) continue
      const partial = i === 0 && conn.acc != null
      if (partial && parsed?.status != null && (parsed.untilClose || err == null)) {
        settle(job, { status: parsed.status })
      } else if (!partial && !job.retried && (conn.reused || conn.answered > 0)) {
        // The server ended a kept or pipelined connection before this request's turn: once more, on a new one.
        job.retried = true
        job.conn = undefined
        enqueue(job)
      } else settle(job, { error: errorOf(err) })
    }
  }

  function forget (conn: Conn): void {
    clearTimeout(conn.idleTimer)
    const list = idle.get(conn.key)
    const at = list?.indexOf(conn) ?? -1
    if (list != null && at >= 0) { list.splice(at, 1); if (list.length === 0) idle.delete(conn.key) }
  }

  function release (conn: Conn): void {
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
    conn.reused = true
    return conn
  }

  function enqueue (job: Job): void {
    const key = `${job.req.url.protocol}//${job.req.url.host}`
    const list = waiting.get(key)
    if (list != null) { list.push(job); return }
    waiting.set(key, [job])
    setImmediate(() => { flush(key) })
  }

  /** Writes what waits for `key`: pipelined in groups, retries and lone requests each on their own. */
  function flush (key: string): void {
    const jobs = (waiting.get(key) ?? []).filter(j => !j.done)
    waiting.delete(key)
    const groups: Job[][] = []
    let group: Job[] = []
    for (const job of jobs) {
      if (job.retried || job.req.alone === true) { groups.push([job]); continue }
      group.push(job)
      if (group.length === PIPELINE) { groups.push(group); group = [] }
    }
    if (group.length > 0) groups.push(group)
    for (const g of groups) {
      const first = g[0] as Job
      const conn = (first.retried ? undefined : take(key)) ?? open(first.req.url, first.req.lookup)
      for (const job of g) job.conn = conn
      conn.jobs.push(...g)
      conn.socket.write(g.length === 1 ? first.text : g.map(j => j.text).join(''))
    }
  }

  return {
    async post (req) {
      let text = `POST ${req.url.pathname}${req.url.search} HTTP/1.1\r\nhost: ${req.url.host}\r\n` +
        `content-length: ${Buffer.byteLength(req.body)}\r\n`
      for (const [name, value] of Object.entries(req.headers)) text += `${name}: ${value}\r\n`
      text += `\r\n${req.body}`
      return await new Promise<PostResult>((resolve) => {
        if (req.signal?.aborted === true) { resolve({ error: 'cancelled' }); return }
        const job: Job = { req, text, resolve, done: false, retried: false, timer: setTimeout(() => {
          settle(job, { error: `no answer within ${req.timeoutMs} ms` })
        }, req.timeoutMs) }
        req.signal?.addEventListener('abort', cancel, { once: true })
        enqueue(job)
      })
    },
    close () {
      for (const list of idle.values()) for (const conn of [...list]) conn.socket.destroy()
      idle.clear()
    }
  }
}
