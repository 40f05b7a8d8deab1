/**
 * Browser sessions of the web app, held in memory: a session id (the value
 * of an HttpOnly cookie) bound to the bearer token the person signed in
 * with. The token is authenticated again on every request, so revoking or
 * expiring it ends the session; a restart signs everyone out.
 */
import { createHash, randomBytes } from 'node:crypto'

/** Settings of the store. */
export interface SessionStoreInit {
  /** A session unused for this long ends. */
  idleMs: number
  /** Most sessions held at once; the least recently used one goes first. */
  maxSessions: number
}

/** The sessions. Ids are 256 random bits; only their SHA-256 is kept as a key. */
export interface SessionStore {
  /** Starts a session bound to `secret`; returns its id (the cookie value). */
  create(secret: string): string
  /** The token secret of a live session (and marks it used), or undefined. */
  secretOf(id: string): string | undefined
  /** Ends a session; unknown ids are ignored. */
  remove(id: string): void
}

const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64url')

/** Creates an empty in-memory store. */
export function createSessionStore (init: SessionStoreInit): SessionStore {
  // Map order is insertion order: re-inserting on use keeps the least recently used first.
  const sessions = new Map<string, { secret: string, usedAt: number }>()
  return {
    create (secret) {
      const id = randomBytes(32).toString('base64url')
      sessions.set(keyOf(id), { secret, usedAt: Date.now() })
      while (sessions.size > init.maxSessions) sessions.delete(sessions.keys().next().value as string)
      return id
    },
    secretOf (id) {
      const key = keyOf(id)
      const session = sessions.get(key)
      if (session == null) return undefined
      const now = Date.now()
      sessions.delete(key)
      if (now - session.usedAt > init.idleMs) return undefined
      session.usedAt = now
      sessions.set(key, session)
      return session.secret
    },
    remove (id) {
      sessions.delete(keyOf(id))
    }
  }
}
