/**
 * Tokens in the datastore, keyed by the SHA-256 of the secret:
 *   /pinery/auth/token/<sha256 hex>  → TokenInfo (JSON)
 *   /pinery/auth/bootstrap           → the hash of the admin bootstrap token
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { Key } from 'interface-datastore'
import { InvalidRequestError, UnauthorizedError } from '../errors.js'
import { USER_NAME, type Principal, type TokenInfo, type TokenStore } from './index.js'
import type { Datastore } from 'interface-datastore'

/** Where tokens are kept. */
export interface TokenStoreComponents {
  datastore: Datastore
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const BOOTSTRAP_KEY = new Key('/pinery/auth/bootstrap')
const ADMIN = 'admin'

function hashOf (secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

function tokenKey (hash: Buffer): Key {
  return new Key(`/pinery/auth/token/${hash.toString('hex')}`)
}

/** A new random secret: 256 bits, URL-safe, recognisable by its prefix. */
function newSecret (): string {
  return `pinery_${randomBytes(32).toString('base64url')}`
}

async function getOrUndefined (datastore: Datastore, key: Key): Promise<Uint8Array | undefined> {
  try {
    return await datastore.get(key)
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
}

/** Creates the token store. */
export function createTokenStore (components: TokenStoreComponents): TokenStore {
  const { datastore } = components
  // Principals of tokens seen valid, by hash hex. Anything that revokes a token must evict it here.
  const known = new Map<string, Principal>()

  async function store (hash: Buffer, info: TokenInfo): Promise<void> {
    await datastore.put(tokenKey(hash), encoder.encode(JSON.stringify({ ...info, hash: hash.toString('hex') })))
  }

  return {
    async authenticate (secret) {
      const hash = hashOf(secret)
      const cached = known.get(hash.toString('hex'))
      if (cached != null) return cached
      const value = await getOrUndefined(datastore, tokenKey(hash))
      if (value == null) throw new UnauthorizedError('access token is unknown or revoked')
      const stored = JSON.parse(decoder.decode(value)) as TokenInfo & { hash: string }
      // The lookup is by hash already; compare the full digest in constant time anyway.
      if (!timingSafeEqual(Buffer.from(stored.hash, 'hex'), hash)) throw new UnauthorizedError('access token is unknown or revoked')
      const principal: Principal = { user: stored.user, tokenId: stored.id }
      known.set(hash.toString('hex'), principal)
      return principal
    },

    async create (user, label) {
      if (!USER_NAME.test(user)) throw new InvalidRequestError(`user name "${user}" must be 1-64 lowercase letters, digits or '-'`)
      const secret = newSecret()
      const info: TokenInfo = { id: randomUUID(), user, created: new Date().toISOString(), ...(label != null ? { label } : {}) }
      await store(hashOf(secret), info)
      return { info, secret }
    },

    async bootstrapAdmin (secret) {
      const previous = await getOrUndefined(datastore, BOOTSTRAP_KEY)
      const previousHash = previous == null ? undefined : Buffer.from(decoder.decode(previous), 'hex')
      if (secret == null && previousHash != null) return {}
      const generated = secret == null ? newSecret() : undefined
      const hash = hashOf(secret ?? generated as string)
      if (previousHash != null && previousHash.equals(hash)) return {}
      const batch = datastore.batch()
      if (previousHash != null) {
        batch.delete(tokenKey(previousHash))
        known.delete(previousHash.toString('hex'))
      }
      batch.put(tokenKey(hash), encoder.encode(JSON.stringify({ id: 'bootstrap', user: ADMIN, label: 'bootstrap', created: new Date().toISOString(), hash: hash.toString('hex') })))
      batch.put(BOOTSTRAP_KEY, encoder.encode(hash.toString('hex')))
      await batch.commit()
      return generated == null ? {} : { generated }
    }
  }
}
