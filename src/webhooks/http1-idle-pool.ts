/**
 * The webhook client's (http1.ts) idle connections: kept per origin for a
 * short while after their last answer, so the next POSTs to the receiver skip
 * a connect, and unref'd meanwhile so they never hold the process open. Apart
 * from http1.ts because keeping idle sockets is its own concern from writing
 * and reading requests on them.
 */
import type { Socket } from 'node:net'

/** How long an idle connection is kept (below common servers' keep-alive timeouts, e.g. Node's 5 s). */
const IDLE_MS = 2000
/** Idle connections kept per origin. */
const MAX_IDLE = 32

/** What the pool uses of a connection: http1.ts's connection has these fields among others. */
export interface PooledConn {
  socket: Socket
  key: string
  reused: boolean
  idleTimer?: NodeJS.Timeout
  timer?: NodeJS.Timeout
}

/** Idle connections per origin key, for the client to take again instead of connecting. */
export interface IdlePool<C extends PooledConn> {
  /** Takes `conn` out of the pool, if it is there (it closed, or was taken). */
  forget(conn: C): void
  /** Keeps `conn` (it has no request waiting) for IDLE_MS, or closes it when its origin has MAX_IDLE already. */
  release(conn: C): void
  /** An idle connection to `key`, marked reused, or undefined. */
  take(key: string): C | undefined
  /** Closes the idle connections. */
  close(): void
}

/** Creates an empty pool (one per client). */
export function createIdlePool<C extends PooledConn> (): IdlePool<C> {
  const idle = new Map<string, C[]>()

  function forget (conn: C): void {
    clearTimeout(conn.idleTimer)
    const list = idle.get(conn.key)
    const at = list?.indexOf(conn) ?? -1
    if (list != null && at >= 0) { list.splice(at, 1); if (list.length === 0) idle.delete(conn.key) }
  }

  function release (conn: C): void {
    const list = idle.get(conn.key) ?? []
    if (list.length >= MAX_IDLE || conn.socket.destroyed) { conn.socket.destroy(); return }
    clearTimeout(conn.timer)
    conn.timer = undefined
    list.push(conn)
    idle.set(conn.key, list)
    conn.socket.unref()
    conn.idleTimer = setTimeout(() => { conn.socket.destroy() }, IDLE_MS)
    conn.idleTimer.unref()
  }

  function take (key: string): C | undefined {
    const conn = idle.get(key)?.pop()
    if (conn == null) return undefined
    forget(conn)
    conn.socket.ref()
    conn.reused = true
    return conn
  }

  return {
    forget,
    release,
    take,
    close () {
      for (const list of idle.values()) for (const conn of [...list]) conn.socket.destroy()
      idle.clear()
    }
  }
}
