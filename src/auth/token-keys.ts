/**
 * Where the token store keeps tokens, and how it reads them back: the keys,
 * the stored shape and the reads (kept apart from the store's rules so each
 * file stays small).
 *   /pinery/auth/token/<sha256 hex>        → the token (JSON, with its hash; never the secret)
 *   /pinery/auth/user-token/<user>/<id>    → sha256 hex, to list and revoke a user's tokens
 *   /pinery/auth/bootstrap                 → sha256 hex of the admin bootstrap token
 */
import { createHash, randomBytes } from 'node:crypto'
import { Key, type Datastore } from 'interface-datastore'
import { getOrUndefined } from '../node/storage.js'
import { ADMIN_USER, SCOPES, type Scope, type TokenInfo, type User } from './index.js'

/**
 * A token as stored. `userCreated` ties it to one incarnation of its user: a
 * token that survived its user's deletion never works for a new user of
 * the same name.
 */
export type StoredToken = TokenInfo & { hash: string, userCreated?: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** The key of the admin bootstrap token's hash. */
export const BOOTSTRAP_KEY = new Key('/pinery/auth/bootstrap')

/** A secret's SHA-256: tokens are stored and looked up by it, never by the secret. */
export const hashOf = (secret: string): Buffer => createHash('sha256').update(secret).digest()
/** The key of a stored token. */
export const tokenKey = (hashHex: string): Key => new Key(`/pinery/auth/token/${hashHex}`)
/** The key listing one token of a user (its value: the hash hex). */
export const userTokenKey = (user: string, id: string): Key => new Key(`/pinery/auth/user-token/${user}/${id}`)
/** A value as stored: JSON in UTF-8. */
export const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
/** A string as stored. */
export const utf8 = (text: string): Uint8Array => encoder.encode(text)

/** A user demoted from admin keeps their tokens, without the admin scope. */
export function effectiveScope (scope: Scope, user: User): Scope {
  return scope === 'admin' && user.role !== 'admin' ? 'pins:write' : scope
}

/** A new random secret: 256 bits, URL-safe, recognisable by its prefix. */
export function newSecret (): string {
  return `pinery_${randomBytes(32).toString('base64url')}`
}

/** Tokens written before access levels existed act with pins:write (admin for the admin user). */
export function withDefaults (stored: StoredToken): StoredToken {
  const scope = SCOPES.includes(stored.scope) ? stored.scope : (stored.user === ADMIN_USER ? 'admin' : 'pins:write')
  return { ...stored, scope }
}

/** Reads of the stored tokens. */
export interface TokenReads {
  read<T>(key: Key): Promise<T | undefined>
  readRaw(key: Key): Promise<string | undefined>
  /** A user's tokens as stored, each with its hash hex. */
  storedTokens(user: string): Promise<StoredToken[]>
  /** How many tokens a user holds, the bootstrap token not counted. */
  countTokens(user: string): Promise<number>
  /** Ids and hash hex of every token of a user. */
  idsOf(user: string): Promise<Array<{ id: string, hex: string }>>
}

/** The reads of the tokens in `datastore`. */
export function tokenReads (datastore: Datastore): TokenReads {
  const readRaw = async (key: Key): Promise<string | undefined> => {
    const stored = await getOrUndefined(datastore, key)
    return stored == null ? undefined : decoder.decode(stored)
  }
  const read = async <T>(key: Key): Promise<T | undefined> => {
    const text = await readRaw(key)
    return text == null ? undefined : JSON.parse(text) as T
  }
  const prefix = (user: string): string => `/pinery/auth/user-token/${user}/`
  return {
    read,
    readRaw,
    async storedTokens (user) {
      const tokens: StoredToken[] = []
      for await (const { value } of datastore.query({ prefix: prefix(user) })) {
        const stored = await read<StoredToken>(tokenKey(decoder.decode(value)))
        if (stored != null) tokens.push(withDefaults(stored))
      }
      return tokens
    },
    async countTokens (user) {
      let n = 0
      for await (const key of datastore.queryKeys({ prefix: prefix(user) })) {
        if (key.baseNamespace() !== 'bootstrap') n++
      }
      return n
    },
    async idsOf (user) {
      const ids: Array<{ id: string, hex: string }> = []
      for await (const { key, value } of datastore.query({ prefix: prefix(user) })) {
        ids.push({ id: key.baseNamespace(), hex: decoder.decode(value) })
      }
      return ids
    }
  }
}
