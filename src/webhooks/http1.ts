/**
 * A small HTTP/1.1 client for webhook POSTs: requests to one origin made in
 * the same turn are written at once on one connection (pipelined, at most 128;
 * a request marked `alone`, a retry, goes on its own), idle connections are
 * kept per origin for a short while (http1-idle-pool.ts), and each answer is
 * read only as far as its status and (to keep the connection) its framing. A
 * request a closing connection left unanswered is sent once more on a new
 * connection.
 *
 * Hand-written instead of node:http or undici because delivery is the main
 * cost of notifications: per POST to a local receiver, client CPU was
 * node:http (keep-alive agent) 70 µs, undici `Client` 60 µs (also with
 * pipelining), this client 22 µs one at a time and 15 µs pipelined 8 deep
 * (15,000 POSTs each, 2026-11-30); re-measured 2026-12-01 (bench:webhook-cost,
 * 60,000 POSTs ~33 deep): 12–14 µs per POST for the whole delivering process,
 * of which this client's and the outbox's JS ~1.5, the kernel's loopback
 * write ~3, GC the most (RESULTS.md, round eleven). With three webhooks that is three POSTs
 * per event, on the same thread as pinning; pipelining also wakes each
 * receiver once per batch instead of once per POST. Each request's head is
 * built from a request line cached per URL, its body is the event's bytes
 * (shared by every webhook), and a connection has one timeout timer for its
 * earliest deadline rather than one per request.
 */
import { connect as netConnect, type LookupFunction, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { parseAnswer, type Parsed } from './http1-answer.js'
import { createIdlePool } from './http1-idle-pool.js'

/** One POST to make. */
export interface PostRequest {
  url: URL
  /** Header lines (`name: value\r\n` each, lower-case names); host and content-length are added. */
  headers: string
  /** The JSON sent (bytes; several requests to one receiver can share them). */
  body: Uint8Array
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

/** Requests written at once on one connection, at most (their answers come back in order). */
const PIPELINE = 128

/** The usual answer, shared (read-only). */
const OK: PostResult = Object.freeze({ status: 200 })

interface Job {
  req: PostRequest
  /** The request's head, as written before its body (latin1: one byte per character). */
  head: string
  resolve: (r: PostResult) => void
  done: boolean
  /** When it times out (ms since the epoch). */
  deadline: number
  conn?: Conn
  /** Sent again after a connection closed before answering it; goes on a new connection. */
  retried: boolean
}

interface Conn {
  socket: Socket
  key: string
  /** Written and not answered yet, in order. */
  jobs: Job[]
  /** What has arrived of the first job's answer: `acc` from `at` on (answers before it are read). */
  acc?: Buffer
  at: number
  parsed?: Parsed
  /** Answers read on it (a close after one means the server ended it: the rest may be sent again). */
  answered: number
  reused: boolean
  idleTimer?: NodeJS.Timeout
  /** One timer per connection, for its earliest deadline (not one per request: they are many). */
  timer?: NodeJS.Timeout
  due: number
}

/** POSTs over kept-alive connections. */
export interface Http1Client {
  post(req: PostRequest): Promise<PostResult>
  /** `post` with a callback: no promise per request (the outbox makes three POSTs per event). */
  send(req: PostRequest, done: (r: PostResult) => void): void
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
  const { forget, release, take, close } = createIdlePool<Conn>()
  const waiting = new Map<string, Job[]>()

  function settle (job: Job, r: PostResult): void {
    if (job.done) return
    job.done = true
    job.resolve(r)
    // An answer out of turn would be misread: the connection cannot carry the rest.
    if (job.conn?.jobs.includes(job) === true) job.conn.socket.destroy()
  }
  /** Settles the job whose answer was just read (already taken off its connection). */
  function settleAnswered (job: Job, r: PostResult): void {
    if (job.done) return
    job.done = true
    job.resolve(r)
  }
  /** An abort listener, one per signal (the same function is added once), cancelling its requests. */
  function cancel (this: AbortSignal): void {
    const jobs = [...[...waiting.values()].flat(), ...[...live].flatMap(conn => conn.jobs)]
    for (const job of jobs) if (job.req.signal === this) settle(job, { error: 'cancelled' })
  }
  const live = new Set<Conn>()
  /** Signals with the abort listener on (one listener per signal, not one per request). */
  const signals = new WeakSet<AbortSignal>()
  /** Per URL: the pool key and the request line with the host header. */
  const targets = new WeakMap<URL, { key: string, line: string }>()

  function targetOf (url: URL): { key: string, line: string } {
    let target = targets.get(url)
    if (target != null) return target
    const line = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`
    targets.set(url, target = { key: `${url.protocol}//${url.host}`, line })
    return target
  }

  /** Times out what is due on `conn`, and watches for the next deadline. */
  function expire (conn: Conn): void {
    conn.timer = undefined
    const now = Date.now()
    let next = Infinity
    for (const job of [...conn.jobs]) {
      // Settling a job that is on the connection destroys it; its close sends the rest again or fails them.
      if (job.deadline <= now) settle(job, { error: `no answer within ${job.req.timeoutMs} ms` })
      else next = Math.min(next, job.deadline)
    }
    if (next < Infinity && !conn.socket.destroyed) watch(conn, next)
  }

  function watch (conn: Conn, deadline: number): void {
    if (conn.timer != null && conn.due <= deadline) return
    clearTimeout(conn.timer)
    conn.due = deadline
    conn.timer = setTimeout(() => { expire(conn) }, Math.max(0, deadline - Date.now()))
  }

  function open (url: URL, lookup?: LookupFunction): Conn {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const https = url.protocol === 'https:'
    const port = Number(url.port !== '' ? url.port : https ? 443 : 80)
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host
    const socket = https
      ? tlsConnect({ host, port, servername, lookup, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port, lookup, noDelay: true })
    const conn: Conn = { socket, key: targetOf(url).key, jobs: [], at: 0, answered: 0, reused: false, due: Infinity }
    live.add(conn)
    let failure: Error | undefined
    socket.on('data', (chunk: Buffer) => { onData(conn, chunk) })
    socket.on('error', (err) => { failure = err })
    socket.on('close', () => { onClose(conn, failure) })
    return conn
  }

  function onData (conn: Conn, chunk: Buffer): void {
    // What is left of the last read (an answer cut short) goes before this one.
    conn.acc = conn.acc == null ? chunk : Buffer.concat([conn.acc.subarray(conn.at), chunk])
    conn.at = 0
    const acc = conn.acc
    while (conn.at < acc.length) {
      const job = conn.jobs[0]
      if (job == null) { conn.socket.destroy(); return }
      let parsed: Parsed
      try {
        parsed = conn.parsed = parseAnswer(acc, conn.at)
      } catch (err) {
        conn.jobs.shift()
        settle(job, { error: `bad answer: ${(err as Error).message}` })
        conn.socket.destroy()
        return
      }
      if (!parsed.done) {
        if (acc.length - conn.at < job.req.maxResponseBytes) return
        conn.jobs.shift()
        settle(job, parsed.status != null ? { status: parsed.status } : { error: 'the answer\'s head is too large' })
        conn.answered++
        conn.socket.destroy()
        return
      }
      conn.jobs.shift()
      settleAnswered(job, parsed.status === 200 ? OK : { status: parsed.status })
      conn.answered++
      conn.at += parsed.used
      conn.parsed = undefined
      if (parsed.close) {
        conn.acc = conn.at < acc.length ? acc.subarray(conn.at) : undefined
        conn.at = 0
        conn.socket.destroy()
        return
      }
    }
    conn.acc = undefined
    conn.at = 0
    if (conn.jobs.length === 0) release(conn)
  }

  function onClose (conn: Conn, err?: Error): void {
    live.delete(conn)
    clearTimeout(conn.timer)
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

  function enqueue (job: Job): void {
    const key = targetOf(job.req.url).key
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
      // One buffer for the group, heads written straight into it (no buffer per head, no concat).
      let size = 0
      for (const job of g) size += job.head.length + job.req.body.byteLength
      const out = Buffer.allocUnsafe(size)
      let at = 0
      let deadline = Infinity
      for (const job of g) {
        job.conn = conn
        conn.jobs.push(job)
        at += out.write(job.head, at, 'latin1')
        out.set(job.req.body, at)
        at += job.req.body.byteLength
        deadline = Math.min(deadline, job.deadline)
      }
      watch(conn, deadline)
      conn.socket.write(out)
    }
  }

  function send (req: PostRequest, resolve: (r: PostResult) => void): void {
    const { signal } = req
    if (signal?.aborted === true) { resolve({ error: 'cancelled' }); return }
    const head = `${targetOf(req.url).line}content-length: ${req.body.byteLength}\r\n${req.headers}\r\n`
    const job: Job = { req, head, resolve, done: false, retried: false, deadline: Date.now() + req.timeoutMs }
    if (signal != null && !signals.has(signal)) {
      signals.add(signal)
      signal.addEventListener('abort', cancel, { once: true })
    }
    enqueue(job)
  }

  return {
    async post (req) {
      return await new Promise<PostResult>((resolve) => { send(req, resolve) })
    },
    send,
    close
  }
}
