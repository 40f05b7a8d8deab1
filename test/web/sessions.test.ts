/**
 * The in-memory session store: one user signing in over and over evicts only their own oldest
 * sessions, never other people's (POST /session is not rate limited, and any member can call it).
 */
import { describe, expect, it } from 'vitest'
import { createSessionStore } from '../../src/web/sessions.js'

const O = 'http://127.0.0.1:7070'

describe('session store', () => {
  it('a user signing in again and again pushes out only their own sessions', () => {
    const store = createSessionStore({ idleMs: 60_000, maxSessions: 10, maxSessionsPerUser: 3 })
    const bob = store.create('bob-token', 'bob', O)
    const alice = Array.from({ length: 100 }, () => store.create('alice-token', 'alice', O))
    expect(store.get(bob)?.secret).toBe('bob-token')
    expect(alice.filter(id => store.get(id) != null)).toHaveLength(3)
    expect(store.get(alice[99] as string)?.secret).toBe('alice-token') // the newest stay
  })

  it('still holds at most maxSessions in all, and forgets removed and idle ones', () => {
    const store = createSessionStore({ idleMs: 60_000, maxSessions: 4, maxSessionsPerUser: 3 })
    const ids = ['a', 'b', 'c', 'd', 'e'].map(user => store.create(`${user}-token`, user, O))
    expect(ids.filter(id => store.get(id) != null)).toHaveLength(4)
    expect(store.get(ids[0] as string)).toBeUndefined()
    store.remove(ids[4] as string)
    expect(store.get(ids[4] as string)).toBeUndefined()
    // Removed sessions no longer count against their user.
    const again = [1, 2, 3].map(() => store.create('e-token', 'e', O))
    expect(again.every(id => store.get(id)?.secret === 'e-token')).toBe(true)
  })
})
