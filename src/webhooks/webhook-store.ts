/**
 * Registered webhooks, durable in LevelDB and held in memory (there are few),
 * and each one's last 100 delivery attempts:
 *
 *   /pinery/webhook/<id>  → the webhook (JSON, with its secret)
 *   /pinery/wh-att/<id>   → its last 100 attempts (JSON, newest first)
 *
 * Attempts are kept in memory (loaded at start: there are few webhooks),
 * recorded without a write or a promise (one per POST, three POSTs per event
 * with three webhooks), and written at most once a second (unsynced): a crash
 * may forget the last second of the attempt list, never a delivery.
 *
 * The secret is needed to sign, so it is stored as is; it leaves this module
 * only towards the signer and, once, in the answer that creates it.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { PinEventType } from '../events/index.js'
import type { ExtraOp } from '../pins/record-store.js'
import type { Level } from 'level'
import { KEPT_ATTEMPTS, newRing, record, shown, type DeliveryAttempt, type Ring } from './attempt-ring.js'

export { KEPT_ATTEMPTS, type DeliveryAttempt } from './attempt-ring.js'

const PREFIX = '/pinery/webhook/'
const ATTEMPTS = '/pinery/wh-att/'
const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** How often changed attempt lists are written. */
const ATTEMPTS_FLUSH_MS = 1000

/** A webhook as stored. */
export interface Webhook {
  id: string
  /** Who registered it; only they (or an admin) see it. */
  owner: string
  /** Node-wide: receives every user's events (registered by an admin). */
  all: boolean
  /** The id of the token that registered it (absent before this field): revoking that token disables it. */
  createdBy?: string
  url: string
  events: PinEventType[]
  description: string
  created: string
  enabled: boolean
  /** Why it was disabled. */
  disabledReason?: string
  /**
   * While disabled: the last event published when it was disabled. It still wants the events up to it
   * (they waited for it: delivered once it is enabled again), none after.
   */
  disabledAfter?: number
  /** When deliveries started failing (cleared by a success). */
  failingSince?: number
  secret: string
}

/** What may change of a webhook after it is created. */
export type WebhookChanges = Partial<Pick<Webhook, 'enabled' | 'disabledReason' | 'failingSince'>>

/** Durable webhooks. */
export interface WebhookStore {
  create(hook: Omit<Webhook, 'id' | 'created' | 'enabled' | 'secret'>): Promise<Webhook>
  get(id: string): Webhook | undefined
  all(): Webhook[]
  /** Applies `changes` and persists; returns the webhook, or undefined when it is gone. */
  update(id: string, changes: WebhookChanges): Promise<Webhook | undefined>
  /**
   * Enables webhook `id` for its owner, who asks with token `tokenId`: stored while that token exists (and, for a
   * node-wide webhook, while the owner is an admin), as `create` is. Before, an enable authenticated just before
   * the token's revocation landed just after it, and the webhook the token registered stayed enabled.
   */
  enable(id: string, tokenId?: string): Promise<Webhook | undefined>
  /**
   * The writes applying `changes` to each of `ids`, for another store's batch (a token's revocation and the
   * disabling of what the token registered land together, or neither does); `written()` then takes them in.
   */
  updateInBatch(ids: string[], changes: WebhookChanges): { ids: string[], extra: ExtraOp[], written(): Promise<void> }
  /** Removes the webhook and its attempts (the outbox is cleared by the deliverer). */
  remove(id: string): Promise<boolean>
  /** Records an attempt made at `at` (ms since the epoch), keeping the last 100. */
  recordAttempt(id: string, at: number, attempt: Omit<DeliveryAttempt, 'time'>): void
  /** The last attempts, newest first. */
  attempts(id: string): Promise<DeliveryAttempt[]>
  /** Writes the attempt lists that changed (also on a timer). */
  flush(): Promise<void>
  /** Flushes and stops the timer. */
  stop(): Promise<void>
}

/** Where webhooks are kept. */
export interface WebhookStoreComponents {
  db: Level<string, Uint8Array>
  /** The last event published (EventLog.published): a webhook disabled remembers it (disabledAfter). */
  published?(): number
  /**
   * TokenStore.whileValid: a webhook registered by a token is stored while the token exists, one at a time
   * with its revocations, so the revocation's hook sees it (and disables it) or the creation is refused.
   */
  whileTokenValid?(user: string, tokenId: string, write: () => Promise<void>): Promise<void>
  /**
   * UserStore.whileAdmin: a node-wide webhook is stored while its owner is an admin, one at a time with their
   * demotion, so the demotion's hook sees it (and disables it) or the creation is refused. Checked only when
   * the request was authenticated, one stored just after the demotion's look stayed enabled (57 of 60).
   */
  whileAdmin?(user: string, write: () => Promise<void>): Promise<void>
}

/** Opens the store and loads every webhook. */
export async function createWebhookStore (components: WebhookStoreComponents): Promise<WebhookStore> {
  const { db } = components
  const hooks = new Map<string, Webhook>()
  /** Each webhook's last attempts. */
  const recent = new Map<string, Ring>()
  const dirty = new Set<string>()
  for await (const value of db.values({ gt: PREFIX, lt: `${PREFIX}\xff` })) {
    const hook = JSON.parse(decoder.decode(value)) as Webhook
    hooks.set(hook.id, hook)
  }
  for await (const [key, value] of db.iterator({ gt: ATTEMPTS, lt: `${ATTEMPTS}\xff` })) {
    const stored = JSON.parse(decoder.decode(value)) as DeliveryAttempt[]
    const ring = newRing()
    for (const { time, ...attempt } of stored.slice(0, KEPT_ATTEMPTS).reverse()) record(ring, Date.parse(time), attempt)
    recent.set(key.slice(ATTEMPTS.length), ring)
  }

  const encoded = (hook: Webhook): Uint8Array => encoder.encode(JSON.stringify(hook))
  async function persist (hook: Webhook): Promise<void> {
    await db.put(`${PREFIX}${hook.id}`, encoded(hook), { sync: true })
  }
  function changed (current: Webhook, changes: WebhookChanges): Webhook {
    const next: Webhook = { ...current, ...changes }
    // The events that waited for it when it was disabled: wanted still, so a crash before they are parked
    // (or a window of them not read yet) does not skip them as events of a disabled webhook.
    const published = components.published?.()
    if (!next.enabled && current.enabled && published != null) next.disabledAfter = published
    if (next.enabled) delete next.disabledAfter
    for (const key of ['disabledReason', 'failingSince'] as const) if (next[key] == null) delete next[key]
    return next
  }

  /**
   * `next` (made from `base` with `changes`) has been written. Writes land in the order they were made,
   * but each is made from the webhook in memory when asked for: one made while another waited for its
   * fsync (the outbox clearing `failingSince` while the owner disabled it) was computed without it and
   * written over it, enabling the webhook again. So a write whose base changed meanwhile is made again
   * on top of what is there now.
   */
  async function landed (
    id: string, base: Webhook, next: Webhook, changes: WebhookChanges
  ): Promise<Webhook | undefined> {
    // Removed meanwhile: do not bring it back.
    if (!hooks.has(id)) { await db.del(`${PREFIX}${id}`); return undefined }
    if (hooks.get(id) !== base) return await settle(id, hooks.get(id), changes)
    hooks.set(id, next)
    return next
  }

  /** Applies `changes` to `current` and writes it (again on top of a change that landed meanwhile). */
  async function settle (
    id: string, current: Webhook | undefined, changes: WebhookChanges
  ): Promise<Webhook | undefined> {
    if (current == null) return undefined
    const next = changed(current, changes)
    await persist(next)
    return await landed(id, current, next, changes)
  }

  /**
   * Runs `write` (storing `hook` enabled) while what allows it holds: token `tokenId` of the owner exists, and
   * for a node-wide webhook the owner is an admin; one at a time with the revocation and the demotion, whose
   * hooks then see it (and disable it) or it is refused. Token lock, then user lock: the order the admin's
   * bootstrap takes them in (token-store.ts).
   */
  async function allowed (hook: Webhook, tokenId: string | undefined, write: () => Promise<void>): Promise<void> {
    const admin = components.whileAdmin
    const stored = hook.all && admin != null ? async () => { await admin(hook.owner, write) } : write
    const guard = components.whileTokenValid
    if (tokenId != null && guard != null) await guard(hook.owner, tokenId, stored)
    else await stored()
  }

  /** Newest first, as listed and stored. */
  const listed = (id: string): DeliveryAttempt[] => { const r = recent.get(id); return r == null ? [] : shown(r) }

  async function flush (): Promise<void> {
    const ops = [...dirty].filter(id => hooks.has(id)).map(id => ({
      type: 'put' as const, key: `${ATTEMPTS}${id}`, value: encoder.encode(JSON.stringify(listed(id)))
    }))
    dirty.clear()
    if (ops.length > 0) await db.batch(ops, { sync: false })
  }
  const timer = setInterval(() => { void flush().catch(() => {}) }, ATTEMPTS_FLUSH_MS)
  timer.unref()

  return {
    async create (fields) {
      const hook: Webhook = {
        ...fields,
        id: randomUUID(),
        created: new Date().toISOString(),
        enabled: true,
        secret: `whsec_${randomBytes(32).toString('base64url')}`
      }
      await allowed(hook, hook.createdBy, async () => { await persist(hook); hooks.set(hook.id, hook) })
      return hook
    },
    get: (id) => hooks.get(id),
    all: () => [...hooks.values()],
    async update (id, changes) {
      return await settle(id, hooks.get(id), changes)
    },
    async enable (id, tokenId) {
      const hook = hooks.get(id)
      if (hook == null) return undefined
      let next: Webhook | undefined
      await allowed(hook, tokenId, async () => {
        next = await settle(id, hooks.get(id), { enabled: true, disabledReason: undefined, failingSince: undefined })
      })
      return next
    },
    updateInBatch (ids, changes) {
      const next = ids.flatMap(id => {
        const base = hooks.get(id)
        return base == null ? [] : [{ base, hook: changed(base, changes) }]
      })
      return {
        ids: next.map(n => n.hook.id),
        extra: next.map(({ hook }) => ({ type: 'put' as const, key: `${PREFIX}${hook.id}`, value: encoded(hook) })),
        async written () {
          for (const { base, hook } of next) await landed(hook.id, base, hook, changes)
        }
      }
    },
    async remove (id) {
      if (!hooks.delete(id)) return false
      await db.batch([{ type: 'del', key: `${PREFIX}${id}` }, { type: 'del', key: `${ATTEMPTS}${id}` }], { sync: true })
      recent.delete(id)
      dirty.delete(id)
      return true
    },
    recordAttempt (id, at, attempt) {
      if (!hooks.has(id)) return
      let ring = recent.get(id)
      if (ring == null) recent.set(id, ring = newRing())
      record(ring, at, attempt)
      dirty.add(id)
    },
    async attempts (id) {
      return listed(id)
    },
    flush,
    async stop () {
      clearInterval(timer)
      await flush()
    }
  }
}
