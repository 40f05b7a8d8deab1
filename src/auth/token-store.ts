/**
 * Tokens and users in the datastore:
 *   /pinery/auth/token/<sha256 hex>        → the token (JSON, with its hash; never the secret)
 *   /pinery/auth/user-token/<user>/<id>    → sha256 hex, to list and revoke a user's tokens
 *   /pinery/auth/last-used/<sha256 hex>    → when the token was last used (to the minute)
 *   /pinery/auth/bootstrap                 → sha256 hex of the admin bootstrap token
 * Tokens written before access levels existed act with pins:write (admin
 * for the admin user). Creating and revoking a user's tokens run one at a
 * time per user, so the cap on tokens holds and a token created by one being
 * revoked is either seen by the revocation or refused (and so is what
 * `whileValid` stores for a token, its webhooks).
 */
import { randomUUID, timingSafeEqual } from 'node:crypto'
import { ConflictError, InvalidRequestError, NotFoundError, UnauthorizedError } from '../errors.js'
import { createKeyedMutex } from '../pins/keyed-mutex.js'
import { createTokenLastUsed } from './token-last-used.js'
import { boundedExpiry, descendants } from './token-rules.js'
import {
  BOOTSTRAP_KEY, effectiveScope, hashOf, json, newSecret, tokenKey, tokenReads, userTokenKey, utf8, withDefaults,
  type StoredToken
} from './token-keys.js'
import {
  ADMIN_USER as ADMIN, DEFAULT_MAX_TOKENS_PER_USER, LABEL_RULE, TOKEN_LABEL,
  type Principal, type RevokeHook, type TokenInfo, type TokenStore, type User, type UserStore
} from './index.js'
import { Key, type Batch, type Datastore } from 'interface-datastore'

/** Settings of the token store. */
export interface TokenStoreInit {
  /** Tokens one user may hold (the bootstrap token is not counted against it); default 100. */
  maxTokensPerUser?: number
}

/** Where tokens are kept, and whose they are. */
export interface TokenStoreComponents {
  datastore: Datastore
  users: Pick<UserStore, 'get' | 'ensure'>
  /** Makes every write so far durable (LevelDB: one synced write flushes its log). */
  sync(): Promise<void>
  /** Switches off what revoked tokens set up (their webhooks) in the revocation's own batch. */
  revoking?: RevokeHook
}

/** Creates the token store. */
export function createTokenStore (components: TokenStoreComponents, init: TokenStoreInit = {}): TokenStore {
  const { datastore } = components
  const maxTokens = init.maxTokensPerUser ?? DEFAULT_MAX_TOKENS_PER_USER
  const lock = createKeyedMutex()
  // Creation times strictly increase, so the devices list (oldest first) has one order.
  let lastCreated = 0
  const nextCreated = (): string => new Date(lastCreated = Math.max(Date.now(), lastCreated + 1)).toISOString()
  // Principals of tokens seen valid, by hash hex. Revocation evicts here.
  const known = new Map<string, { principal: Principal, expires?: number, userCreated?: string }>()

  const { read, readRaw, storedTokens, countTokens } = tokenReads(datastore)

  let revocations = 0
  const revokeListeners = new Set<(user: string, tokenIds: string[]) => void | Promise<void>>()
  const lastUsed = createTokenLastUsed({ datastore })

  function toInfo (stored: StoredToken, owner: User | undefined): TokenInfo {
    const { hash, userCreated: _incarnation, ...token } = stored
    const info = owner == null ? token : { ...token, scope: effectiveScope(token.scope, owner) }
    const seen = lastUsed.seen(hash)
    return seen == null ? info : { ...info, lastUsed: seen }
  }

  async function withLastUsed (stored: StoredToken, owner: User | undefined): Promise<TokenInfo> {
    const info = toInfo(stored, owner)
    if (info.lastUsed != null) return info
    const used = await lastUsed.read(stored.hash)
    return used == null ? info : { ...info, lastUsed: used }
  }

  /** Deletes `ids`, then adds `puts`, in one write; authentications that read before forget them. */
  async function removeTokens (
    user: string, ids: Array<{ id: string, hex: string }>, puts: (batch: Batch) => void = () => {}
  ): Promise<void> {
    const batch = datastore.batch()
    const hook = ids.length === 0 ? undefined : components.revoking?.(user, ids.map(t => t.id))
    for (const op of hook?.extra ?? []) {
      if (op.type === 'put') batch.put(new Key(op.key), op.value)
      else batch.delete(new Key(op.key))
    }
    for (const { id, hex } of ids) {
      batch.delete(tokenKey(hex))
      batch.delete(userTokenKey(user, id))
      lastUsed.forget(batch, hex)
    }
    puts(batch)
    await batch.commit()
    revocations++
    for (const { hex } of ids) known.delete(hex)
    await hook?.done()
    await Promise.all([...revokeListeners].map(async listener => { await listener(user, ids.map(t => t.id)) }))
  }

  const store: TokenStore = {
    onRevoke (listener) {
      revokeListeners.add(listener)
      return () => { revokeListeners.delete(listener) }
    },

    async authenticate (secret) {
      const hash = hashOf(secret)
      const hex = hash.toString('hex')
      let entry = known.get(hex)
      if (entry == null) {
        const revision = revocations
        const stored = await read<StoredToken>(tokenKey(hex))
        // The lookup is by hash already; compare the full digest in constant time anyway.
        if (stored == null || !timingSafeEqual(Buffer.from(stored.hash, 'hex'), hash)) {
          throw new UnauthorizedError('access token is unknown or revoked')
        }
        const token = withDefaults(stored)
        entry = {
          principal: {
            user: token.user,
            tokenId: token.id,
            scope: token.scope,
            ...(token.expires != null ? { expires: token.expires } : {})
          },
          ...(token.expires != null ? { expires: Date.parse(token.expires) } : {}),
          ...(token.userCreated != null ? { userCreated: token.userCreated } : {})
        }
        // Not cached when a revocation ran during the read: it may have been this token's.
        if (revision === revocations) known.set(hex, entry)
      }
      if (entry.expires != null && entry.expires <= Date.now()) throw new UnauthorizedError('access token has expired')
      const user = await components.users.get(entry.principal.user)
      if (user == null || (entry.userCreated != null && entry.userCreated !== user.created)) {
        throw new UnauthorizedError('access token is unknown or revoked')
      }
      lastUsed.touch(hex)
      return { ...entry.principal, scope: effectiveScope(entry.principal.scope, user) }
    },

    async create (user, options = {}) {
      const owner = await components.users.get(user)
      if (owner == null) throw new NotFoundError(`no user ${user}`)
      const scope = options.scope ?? 'pins:write'
      if (scope === 'admin' && owner.role !== 'admin') {
        throw new InvalidRequestError(`user ${user} is not an admin, so its tokens cannot have the admin scope`)
      }
      if (options.label != null && !TOKEN_LABEL.test(options.label)) {
        throw new InvalidRequestError(`label: ${LABEL_RULE}`)
      }
      const expires = boundedExpiry(options)
      if (expires != null && expires.getTime() <= Date.now()) {
        throw new InvalidRequestError('expires must be in the future')
      }
      const creator = options.creator
      return await lock.run(user, async () => {
        // Under the user's lock: a creator revoked meanwhile creates nothing (its children would outlive it).
        const by = creator == null || creator === 'offline' ? undefined : creator
        if (by != null && await readRaw(userTokenKey(by.user, by.tokenId)) == null) {
          throw new UnauthorizedError('access token is unknown or revoked')
        }
        const held = await countTokens(user)
        if (held >= maxTokens) {
          throw new ConflictError(
            `user ${user} has ${held} tokens, the most allowed (PINERY_MAX_TOKENS_PER_USER=${maxTokens}); ` +
            'revoke some first')
        }
        const secret = newSecret()
        const hex = hashOf(secret).toString('hex')
        const info: TokenInfo = {
          id: randomUUID(),
          user,
          scope,
          created: nextCreated(),
          ...(options.label != null ? { label: options.label } : {}),
          ...(expires != null ? { expires: expires.toISOString() } : {}),
          ...(creator === 'offline' ? { createdBy: 'offline' } : {}),
          ...(by != null ? { createdBy: by.tokenId } : {}),
          ...(by != null && by.user !== user ? { createdByUser: by.user } : {})
        }
        const batch = datastore.batch()
        batch.put(tokenKey(hex), json({ ...info, hash: hex, userCreated: owner.created }))
        batch.put(userTokenKey(user, info.id), utf8(hex))
        await batch.commit()
        await components.sync()
        return { info, secret }
      })
    },

    async list (user) {
      const owner = await components.users.get(user)
      const tokens = await Promise.all((await storedTokens(user)).map(async t => await withLastUsed(t, owner)))
      return tokens.sort((a, b) => a.created.localeCompare(b.created))
    },

    async get (user, tokenId) {
      const hex = await readRaw(userTokenKey(user, tokenId))
      const stored = hex == null ? undefined : await read<StoredToken>(tokenKey(hex))
      return stored == null ? undefined : await withLastUsed(withDefaults(stored), await components.users.get(user))
    },

    async revoke (user, tokenId) {
      return await lock.run(user, async () => {
        const tokens = await storedTokens(user)
        if (!tokens.some(t => t.id === tokenId)) return 0
        const ids = descendants(tokenId, tokens)
        await removeTokens(user, tokens.filter(t => ids.has(t.id)).map(t => ({ id: t.id, hex: t.hash })))
        // As with revokeAll: PINERY_ADMIN_TOKEN brings the bootstrap token back at the next start.
        if (user === ADMIN && ids.has('bootstrap')) await datastore.delete(BOOTSTRAP_KEY)
        await components.sync()
        return ids.size
      })
    },

    async revokeAll (user) {
      return await lock.run(user, async () => {
        const ids = await tokenReads(datastore).idsOf(user)
        if (ids.length > 0) await removeTokens(user, ids)
        if (user === ADMIN && ids.some(t => t.id === 'bootstrap')) await datastore.delete(BOOTSTRAP_KEY)
        await components.sync()
        return ids.length
      })
    },

    async whileValid (user, tokenId, fn) {
      return await lock.run(user, async () => {
        if (await readRaw(userTokenKey(user, tokenId)) == null) {
          throw new UnauthorizedError('access token is unknown or revoked')
        }
        return await fn()
      })
    },

    async bootstrapAdmin (secret, options = {}) {
      return await lock.run(ADMIN, async () => await bootstrap(secret, options.keep))
    }
  }

  async function bootstrap (
    secret: string | undefined, keep?: (generated: string) => Promise<void>
  ): Promise<{ generated?: string }> {
    const admin = await components.users.ensure(ADMIN, 'admin')
    const previous = await readRaw(BOOTSTRAP_KEY)
    if (secret == null && previous != null) return {}
    const generated = secret == null ? newSecret() : undefined
    const hex = hashOf(secret ?? generated as string).toString('hex')
    if (previous === hex) return {}
    let replaced: Array<{ id: string, hex: string }> = []
    if (previous != null) {
      // A new value replaces the old token: what the old one created goes with it, as on revocation.
      const tokens = await storedTokens(ADMIN)
      const children = descendants('bootstrap', tokens)
      children.delete('bootstrap')
      replaced = [...tokens.filter(t => children.has(t.id)).map(t => ({ id: t.id, hex: t.hash })),
        { id: 'bootstrap', hex: previous }]
    }
    const info: TokenInfo = {
      id: 'bootstrap', user: ADMIN, label: 'bootstrap', scope: 'admin', created: new Date().toISOString()
    }
    // The operator's copy first: a crash before the hash is stored generates another at the next start.
    if (generated != null) await keep?.(generated)
    await removeTokens(ADMIN, replaced, batch => {
      batch.put(tokenKey(hex), json({ ...info, hash: hex, userCreated: admin.created }))
      batch.put(userTokenKey(ADMIN, 'bootstrap'), utf8(hex))
      batch.put(BOOTSTRAP_KEY, utf8(hex))
    })
    await components.sync()
    return generated == null ? {} : { generated }
  }

  return store
}
