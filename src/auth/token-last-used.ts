/**
 * When each token was last used, to the minute. Kept in memory and written at most once a minute per
 * token under its own key (`/pinery/auth/last-used/<sha256 hex>`), so authenticating stays a memory
 * lookup and a late write can never bring back a token revoked meanwhile.
 */
import { Key } from 'interface-datastore'
import { getOrUndefined } from '../node/storage.js'
import type { Batch, Datastore } from 'interface-datastore'

const RESOLUTION_MS = 60_000
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const lastUsedKey = (hashHex: string): Key => new Key(`/pinery/auth/last-used/${hashHex}`)

/** A timestamp rounded down to the minute, as shown to users. */
export const toMinute = (ms: number): string => new Date(ms - ms % RESOLUTION_MS).toISOString()

/** Last use of tokens, by the hex of their hash. */
export interface TokenLastUsed {
  /** Records a use now; writes it when the stored minute is stale. A failed write loses one timestamp. */
  touch(hex: string): void
  /** The last use seen by this process, if any. */
  seen(hex: string): string | undefined
  /** The last use seen by this process, else the stored one. */
  read(hex: string): Promise<string | undefined>
  /** Adds the stored entry's delete to `batch` and forgets the token. */
  forget(batch: Batch, hex: string): void
}

/** Where last use is kept. */
export interface TokenLastUsedComponents {
  datastore: Datastore
}

/** Creates the last-use tracker of the token store. */
export function createTokenLastUsed ({ datastore }: TokenLastUsedComponents): TokenLastUsed {
  const uses = new Map<string, { at: number, written: number }>()
  const seen = (hex: string): string | undefined => {
    const use = uses.get(hex)
    return use == null ? undefined : toMinute(use.at)
  }
  return {
    touch (hex) {
      const now = Date.now()
      const use = uses.get(hex) ?? { at: now, written: 0 }
      use.at = now
      uses.set(hex, use)
      if (now - use.written < RESOLUTION_MS) return
      use.written = now
      Promise.resolve(datastore.put(lastUsedKey(hex), encoder.encode(toMinute(now)))).catch(() => {})
    },
    seen,
    async read (hex) {
      const inMemory = seen(hex)
      if (inMemory != null) return inMemory
      const stored = await getOrUndefined(datastore, lastUsedKey(hex))
      return stored == null ? undefined : decoder.decode(stored)
    },
    forget (batch, hex) {
      batch.delete(lastUsedKey(hex))
      uses.delete(hex)
    }
  }
}
