/**
 * Browser sessions of the web app, held in memory: a session id (the value
 * of an HttpOnly cookie) bound to the bearer token the person signed in
 * with, and to the page's origin (scheme, host, port) it was signed in from.
 * The token is authenticated again on every request, so revoking or
 * expiring it ends the session; a restart signs everyone out.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Counts } from '../counts.js'

/** Settings of the store. */
export interface SessionStoreInit {
  /** A session unused for this long ends (default 12 h). */
  idleMs?: number
  /** Most sessions held at once; the least recently used one goes first (default 10,000). */
  maxSessions?: number
  /**
   * Most sessions one user holds; their own least recently used goes first. Without it one member
   * signing in `maxSessions` times (POST /session is not rate limited) signed everyone else out.
   * Default 64: a person's browsers and devices.
   */
  maxSessionsPerUser?: number
}

/** A live session: the token it stands for, and the origin of the page that signed in. */
export interface Session {
  secret: string
  /**
   * `https://host:port` or `http://…` as the browser named it when signing in: requests that change
   * something must come from exactly this origin, so a page served over plain http on the same host
   * (a network attacker's) cannot act for a session signed in over https.
   */
  origin: string
}

/** The sessions. Ids are 256 random bits; only their SHA-256 is kept as a key. */
export interface SessionStore {
  /** Starts a session of `user` bound to `secret` and the page's `origin`; returns its id (the cookie value). */
  create(secret: string, user: string, origin: string): string
  /** A live session (and marks it used), or undefined. */
  get(id: string): Session | undefined
  /** Ends a session; unknown ids are ignored. */
  remove(id: string): void
}

const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64url')

/** Creates an empty in-memory store. */
export function createSessionStore (options: SessionStoreInit = {}): SessionStore {
  const init = { idleMs: 12 * 60 * 60 * 1000, maxSessions: 10_000, maxSessionsPerUser: 64, ...options }
  // Map order is insertion order: re-inserting on use keeps the least recently used first.
  const sessions = new Map<string, Session & { user: string, usedAt: number }>()
  const perUser = new Counts<string>()
  const drop = (key: string): void => {
    const session = sessions.get(key)
    if (session == null) return
    sessions.delete(key)
    perUser.add(session.user, -1)
  }
  return {
    create (secret, user, origin) {
      const id = randomBytes(32).toString('base64url')
      sessions.set(keyOf(id), { secret, origin, user, usedAt: Date.now() })
      if (perUser.add(user) > init.maxSessionsPerUser) {
        for (const [key, s] of sessions) if (s.user === user) { drop(key); break }
      }
      while (sessions.size > init.maxSessions) drop(sessions.keys().next().value as string)
      return id
    },
    get (id) {
      const key = keyOf(id)
      const session = sessions.get(key)
      if (session == null) return undefined
      const now = Date.now()
      if (now - session.usedAt > init.idleMs) { drop(key); return undefined }
      sessions.delete(key)
      session.usedAt = now
      sessions.set(key, session)
      return { secret: session.secret, origin: session.origin }
    },
    remove (id) {
      drop(keyOf(id))
    }
  }
}
