/**
 * Tokens and users in the datastore:
 *   /pinery/auth/token/<sha256 hex>        → the token (JSON, with its hash; never the secret)
 *   /pinery/auth/user-token/<user>/<id>    → sha256 hex, to list and revoke a user's tokens
 *   /pinery/auth/user/<name>               → the user (JSON)
 *   /pinery/auth/bootstrap                 → sha256 hex of the admin bootstrap token
 * Tokens written before access levels existed act with pins:write (admin
 * for the admin user).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { Key } from 'interface-datastore'
import { InvalidRequestError, UnauthorizedError } from '../errors.js'
import { SCOPES, USER_NAME, type Principal, type Scope, type TokenInfo, type TokenStore, type User } from './index.js'
import type { Datastore } from 'interface-datastore'

/** Where tokens are kept. */
export interface TokenStoreComponents {
  datastore: Datastore
}

type StoredToken = TokenInfo & { hash: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const BOOTSTRAP_KEY = new Key('/pinery/auth/bootstrap')
const ADMIN = 'admin'

const hashOf = (secret: string): Buffer => createHash('sha256').update(secret).digest()
const tokenKey = (hashHex: string): Key => new Key(`/pinery/auth/token/${hashHex}`)
const userTokenKey = (user: string, id: string): Key => new Key(`/pinery/auth/user-token/${user}/${id}`)
const userKey = (name: string): Key => new Key(`/pinery/auth/user/${name}`)
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))

/** A new random secret: 256 bits, URL-safe, recognisable by its prefix. */
function newSecret (): string {
  return `pinery_${randomBytes(32).toString('base64url')}`
}

function withDefaults (stored: StoredToken): StoredToken {
  const scope = SCOPES.includes(stored.scope) ? stored.scope : (stored.user === ADMIN ? 'admin' : 'pins:write')
  return { ...stored, scope }
}

/** Creates the token store. */
export function createTokenStore (components: TokenStoreComponents): TokenStore {
  const { datastore } = components
  // Principals of tokens seen valid, by hash hex. Revocation evicts here.
  const known = new Map<string, { principal: Principal, expires?: number }>()

  async function read<T> (key: Key): Promise<T | undefined> {
    const text = await readRaw(key)
    return text == null ? undefined : JSON.parse(text) as T
  }

  async function readRaw (key: Key): Promise<string | undefined> {
    try {
      return decoder.decode(await datastore.get(key))
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return undefined
      throw err
    }
  }

  async function ensureUser (name: string, role: 'member' | 'admin'): Promise<User> {
    const existing = await read<User>(userKey(name))
    if (existing != null) return existing
    const user: User = { name, role, created: new Date().toISOString() }
    await datastore.put(userKey(name), json(user))
    return user
  }

  const store: TokenStore = {
    async authenticate (secret) {
      const hash = hashOf(secret)
      const hex = hash.toString('hex')
      let entry = known.get(hex)
      if (entry == null) {
        const stored = await read<StoredToken>(tokenKey(hex))
        // The lookup is by hash already; compare the full digest in constant time anyway.
        if (stored == null || !timingSafeEqual(Buffer.from(stored.hash, 'hex'), hash)) throw new UnauthorizedError('access token is unknown or revoked')
        const token = withDefaults(stored)
        entry = { principal: { user: token.user, tokenId: token.id, scope: token.scope }, ...(token.expires != null ? { expires: Date.parse(token.expires) } : {}) }
        known.set(hex, entry)
      }
      if (entry.expires != null && entry.expires <= Date.now()) throw new UnauthorizedError('access token has expired')
      return entry.principal
    },

    async create (user, options = {}) {
      if (!USER_NAME.test(user)) throw new InvalidRequestError(`user name "${user}" must be 1-64 lowercase letters, digits or '-'`)
      const owner = await ensureUser(user, user === ADMIN ? 'admin' : 'member')
      const scope = options.scope ?? 'pins:write'
      if (scope === 'admin' && owner.role !== 'admin') throw new InvalidRequestError(`user ${user} is not an admin, so its tokens cannot have the admin scope`)
      if (options.expires != null && options.expires.getTime() <= Date.now()) throw new InvalidRequestError('expires must be in the future')
      const secret = newSecret()
      const hex = hashOf(secret).toString('hex')
      const info: TokenInfo = {
        id: randomUUID(),
        user,
        scope,
        created: new Date().toISOString(),
        ...(options.label != null ? { label: options.label } : {}),
        ...(options.expires != null ? { expires: options.expires.toISOString() } : {})
      }
      const batch = datastore.batch()
      batch.put(tokenKey(hex), json({ ...info, hash: hex }))
      batch.put(userTokenKey(user, info.id), encoder.encode(hex))
      await batch.commit()
      return { info, secret }
    },

    async list (user) {
      const tokens: TokenInfo[] = []
      for await (const { value } of datastore.query({ prefix: `/pinery/auth/user-token/${user}/` })) {
        const stored = await read<StoredToken>(tokenKey(decoder.decode(value)))
        if (stored == null) continue
        const { hash: _hash, ...info } = withDefaults(stored)
        tokens.push(info)
      }
      return tokens.sort((a, b) => a.created.localeCompare(b.created))
    },

    async revoke (user, tokenId) {
      const hex = await readRaw(userTokenKey(user, tokenId))
      if (hex == null) return false
      const batch = datastore.batch()
      batch.delete(tokenKey(hex))
      batch.delete(userTokenKey(user, tokenId))
      await batch.commit()
      known.delete(hex)
      return true
    },

    async getUser (name) {
      return await read<User>(userKey(name))
    },

    async bootstrapAdmin (secret) {
      await ensureUser(ADMIN, 'admin')
      const previous = await readRaw(BOOTSTRAP_KEY)
      if (secret == null && previous != null) return {}
      const generated = secret == null ? newSecret() : undefined
      const hex = hashOf(secret ?? generated as string).toString('hex')
      if (previous === hex) return {}
      const batch = datastore.batch()
      if (previous != null) {
        batch.delete(tokenKey(previous))
        batch.delete(userTokenKey(ADMIN, 'bootstrap'))
        known.delete(previous)
      }
      const info: TokenInfo = { id: 'bootstrap', user: ADMIN, label: 'bootstrap', scope: 'admin', created: new Date().toISOString() }
      batch.put(tokenKey(hex), json({ ...info, hash: hex }))
      batch.put(userTokenKey(ADMIN, 'bootstrap'), encoder.encode(hex))
      batch.put(BOOTSTRAP_KEY, encoder.encode(hex))
      await batch.commit()
      return generated == null ? {} : { generated }
    }
  }
  return store
}
