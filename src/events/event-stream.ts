/**
 * Live event streams (Server-Sent Events). A stream first replays the log
 * from where the client left off, then follows new events. Each client's
 * buffer is bounded: a client that does not keep up gets a final
 * `disconnect` event naming the last id it was sent, and is closed; nothing
 * ever waits for a client, so open streams cannot slow pinning.
 */
import { chunkOf, frameOf, type Frame } from './sse-frames.js'
import { activeFilter, passes, type ActiveFilter, type StreamFilter } from './stream-filter.js'
import type { EventLog, LoggedEvent } from './event-log.js'
import type { Logger } from '../logger.js'
import type { ServerResponse } from 'node:http'

/** Settings of the streams. */
export interface EventStreamsInit {
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs: number
  /** Bytes queued for one client beyond which it is disconnected. */
  maxBufferedBytes: number
  /** Frames gathered this long leave in one write (fewer writes per event and stream). */
  flushMs?: number
}

/** What the streams need. */
export interface EventStreamsComponents {
  events: Pick<EventLog, 'subscribe' | 'published' | 'read'>
  logger: Logger
}

/** Who a stream is for and where it starts. */
export interface StreamRequest {
  /** Only this user's events; undefined for every user's (admin). */
  user?: string
  /**
   * With `user`: when the user was created (RFC 3339). Earlier events are an earlier user's of the same
   * name (deleted since), still in the log's window; they are not theirs to see.
   */
  since?: string
  /** The last id the client has seen; replay starts after it. */
  after: number
  /** Only these events (none: all of them). */
  filter?: StreamFilter
}

/** The open streams. */
export interface EventStreams {
  /** Streams events to `res` until the client goes away or falls behind. */
  open(res: ServerResponse, request: StreamRequest): Promise<void>
  /** Open streams. */
  count(): number
  /** Closes every stream (shutdown). */
  stop(): void
}

interface Client {
  res: ServerResponse
  user?: string
  since?: string
  filter?: ActiveFilter
  /** The last id queued for the client (written, or pending). */
  lastSent: number
  /** The last id written to the connection. */
  lastWritten: number
  pending: Frame[]
  pendingBytes: number
  /** Events that arrived during the replay; null once live. */
  held: LoggedEvent[] | null
  closed: boolean
  /** In the every-user group (below): its frames are the group's, and its ids are set at the group's flush. */
  grouped: boolean
}

/**
 * Every-user streams that have caught up with each other get the same frames, so they are one group: an event
 * is queued once for the group and the group's chunk is written to each member at the flush. Before, each
 * event was queued on every stream: with bench:events' 50 every-user streams, the per-event loop and the
 * per-stream flush were 42 ms of the main thread's CPU per 20,000 events (perf, 2026-12-01, Round twelve).
 */
interface Group {
  members: Set<Client>
  pending: Frame[]
  pendingBytes: number
  /** The last id queued for the members, and the last written to them. */
  lastSent: number
  lastWritten: number
}

/** How long a disconnected client has to read its last event before its socket is cut. */
const DISCONNECT_GRACE_MS = 30_000

/** Creates the stream registry. */
export function createEventStreams (init: EventStreamsInit, components: EventStreamsComponents): EventStreams {
  const clients = new Set<Client>()
  /** Streams replaying the log; every other stream is in one of the three below. */
  const replaying = new Set<Client>()
  /** Every-user streams not (yet) in the group (a filtered one never joins it), and each user's own streams. */
  const loose = new Set<Client>()
  const byUser = new Map<string, Set<Client>>()
  const group: Group = { members: new Set(), pending: [], pendingBytes: 0, lastSent: 0, lastWritten: 0 }
  const log = components.logger.child({ component: 'event-streams' })
  const heldLimit = Math.max(100, Math.floor(init.maxBufferedBytes / 256))

  const wants = (c: Client, e: LoggedEvent): boolean =>
    (c.user == null || (e.event.user === c.user && (c.since == null || e.event.time >= c.since))) &&
    (c.filter == null || passes(c.filter, e))

  function forget (c: Client): void {
    clients.delete(c)
    replaying.delete(c)
    loose.delete(c)
    group.members.delete(c)
    if (c.user == null) return
    const mine = byUser.get(c.user)
    if (mine?.delete(c) === true && mine.size === 0) byUser.delete(c.user)
  }

  function close (c: Client, reason?: string): void {
    if (c.closed) return
    c.closed = true
    forget(c)
    if (reason == null) { c.res.destroy(); return }
    log.info({ reason, lastWritten: c.lastWritten }, 'event stream disconnected')
    c.pending = []
    c.pendingBytes = 0
    c.res.end(`event: disconnect\ndata: ${JSON.stringify({ reason, last_event_id: String(c.lastWritten) })}\n\n`)
    // A client that reads nothing never drains even that: cut it off (what it holds is bounded meanwhile).
    setTimeout(() => { c.res.destroy() }, DISCONNECT_GRACE_MS).unref()
  }

  const behind = (c: Client): string => `the client did not keep up; reconnect with Last-Event-ID: ${c.lastWritten}`

  let flushTimer: NodeJS.Timeout | undefined
  const flushMs = init.flushMs ?? 100

  /**
   * Writes what waits; false when the response asks the writer to wait for 'drain'. Clients with the
   * same filter waiting for the same events share one encoded chunk per flush.
   */
  function flushClient (c: Client, shared?: Map<string, Buffer>): boolean {
    if (c.closed || c.pending.length === 0) return true
    const key = c.filter != null
      ? undefined // a filtered stream's frames are its own
      : `${c.user ?? '*'} ${c.lastWritten} ${c.lastSent} ${c.pending.length}`
    let chunk = key == null ? undefined : shared?.get(key)
    if (chunk == null) {
      chunk = chunkOf(c.pending, c.pendingBytes)
      if (key != null) shared?.set(key, chunk)
    }
    const ok = c.res.write(chunk)
    c.pending = []
    c.pendingBytes = 0
    c.lastWritten = c.lastSent
    return ok
  }

  /** Writes the group's chunk to each member; a member still holding more than the bound unwritten is let go. */
  function flushGroup (): void {
    if (group.pending.length === 0) return
    const chunk = group.members.size === 0 ? undefined : chunkOf(group.pending, group.pendingBytes)
    group.pending = []
    group.pendingBytes = 0
    group.lastWritten = group.lastSent
    if (chunk == null) return
    for (const c of group.members) {
      if (c.res.writableLength > init.maxBufferedBytes) { close(c, behind(c)); continue }
      c.res.write(chunk)
      c.lastSent = c.lastWritten = group.lastWritten
    }
  }

  function flushAll (): void {
    flushTimer = undefined
    flushGroup()
    const shared = new Map<string, Buffer>()
    // Group members' own queues are empty: their frames went out with the group's chunk.
    for (const c of clients) flushClient(c, shared)
    // Every-user streams now written up to where the group is join it (all of them, when it has none).
    for (const c of loose) {
      if (c.closed || c.pending.length > 0 || c.filter != null) continue
      if (group.members.size === 0) group.lastSent = group.lastWritten = c.lastWritten
      if (c.lastWritten !== group.lastWritten) continue
      loose.delete(c)
      c.grouped = true
      group.members.add(c)
    }
  }

  /**
   * Queues `e`'s frame on a stream or the group; true when what waits is past the bound and is to be written
   * now (what waits for the timer stays bounded too).
   */
  function queue (q: Pick<Client, 'pending' | 'pendingBytes' | 'lastSent'>, e: LoggedEvent): boolean {
    const frame = frameOf(e)
    q.pending.push(frame)
    q.pendingBytes += frame.size
    q.lastSent = e.id
    if (q.pendingBytes > init.maxBufferedBytes) return true
    flushTimer ??= setTimeout(flushAll, flushMs)
    return false
  }

  function send (c: Client, e: LoggedEvent): void {
    if (c.closed || e.id <= c.lastSent || !wants(c, e)) return
    if (c.res.writableLength > init.maxBufferedBytes) { close(c, behind(c)); return }
    if (queue(c, e)) flushClient(c)
  }

  function sendGroup (e: LoggedEvent): void {
    if (group.members.size === 0 || e.id <= group.lastSent) return
    if (queue(group, e)) flushGroup()
  }

  /** A stream done replaying follows new events. */
  function live (c: Client): void {
    replaying.delete(c)
    if (c.closed) return
    if (c.user == null) { loose.add(c); return }
    let mine = byUser.get(c.user)
    if (mine == null) byUser.set(c.user, mine = new Set())
    mine.add(c)
  }

  const unsubscribe = components.events.subscribe((e) => {
    for (const c of replaying) {
      if (c.held == null || !wants(c, e)) continue
      c.held.push(e)
      if (c.held.length > heldLimit) {
        close(c, `too many events while catching up; reconnect with Last-Event-ID: ${c.lastSent}`)
      }
    }
    sendGroup(e)
    for (const c of loose) send(c, e)
    const mine = byUser.get(e.event.user)
    if (mine != null) for (const c of mine) send(c, e)
  })

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      const pending = c.grouped ? group.pending : c.pending
      if (c.res.writableLength === 0 && pending.length === 0) c.res.write(': heartbeat\n\n')
    }
  }, init.heartbeatMs)
  heartbeat.unref()

  return {
    async open (res, request) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no'
      })
      res.write(': pinery events\n\n')
      const c: Client = {
        res,
        lastSent: request.after,
        lastWritten: request.after,
        pending: [],
        pendingBytes: 0,
        held: [],
        closed: false,
        grouped: false,
        ...(request.user != null ? { user: request.user } : {}),
        ...(request.since != null ? { since: request.since } : {}),
        ...(request.filter != null ? { filter: activeFilter(request.filter) } : {})
      }
      clients.add(c)
      replaying.add(c)
      res.once('close', () => { c.closed = true; forget(c) })
      // Everything up to `published` is in the log; later events arrive through the subscription.
      const upTo = components.events.published()
      try {
        for await (const e of components.events.read(request.after, upTo)) {
          if (c.closed) return
          send(c, e)
          // Paced by the response: 'drain' comes exactly after a write that returned false.
          if (c.pendingBytes > init.maxBufferedBytes / 4 && !flushClient(c)) {
            await new Promise<void>(resolve => {
              const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
              res.once('drain', done)
              res.once('close', done)
            })
          }
        }
      } catch (err) {
        log.warn({ err }, 'cannot replay the event log')
        close(c)
        return
      }
      flushClient(c)
      const held = c.held ?? []
      c.held = null
      live(c)
      for (const e of held) send(c, e)
    },
    count: () => clients.size,
    stop () {
      unsubscribe()
      clearInterval(heartbeat)
      clearTimeout(flushTimer)
      for (const c of [...clients]) close(c, 'the service is stopping')
    }
  }
}
