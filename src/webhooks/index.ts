/**
 * Webhooks: what the HTTP routes call. A user manages their own webhooks; an
 * admin may register node-wide ones that receive every user's events. Another
 * user's webhook is indistinguishable from a missing one.
 */
import { randomUUID } from 'node:crypto'
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js'
import { createKeyedMutex } from '../pins/keyed-mutex.js'
import { deliver, type AttemptResult } from './deliver.js'
import type { Outbox } from './outbox.js'
import type { TargetPolicy } from './target-policy.js'
import type { DeliveryAttempt, Webhook, WebhookStore } from './webhook-store.js'
import type { PinEventType } from '../events/index.js'
import type { ExtraOp } from '../pins/record-store.js'
import type { RevokeHook, User, UserChangeHook } from '../auth/index.js'

/** A webhook as the API shows it (never its secret). */
export interface WebhookView {
  id: string
  url: string
  events: PinEventType[]
  description: string
  /** Node-wide: every user's events. */
  all: boolean
  owner: string
  created: string
  enabled: boolean
  disabled_reason?: string
  failing_since?: string
  /** Deliveries waiting (in memory; `+` when more wait on disk). */
  pending: string
}

/** Who is asking, and with which token (recorded on the webhooks it registers). */
export interface Caller { user: string, admin: boolean, tokenId?: string }

/** What a new webhook is. */
export interface NewWebhook { url: string, events: PinEventType[], description?: string, all?: boolean }

/** The webhook service. */
export interface Webhooks {
  create(caller: Caller, hook: NewWebhook): Promise<{ view: WebhookView, secret: string }>
  list(caller: Caller): WebhookView[]
  get(caller: Caller, id: string): WebhookView
  remove(caller: Caller, id: string): Promise<void>
  /** Removes every webhook `owner` registered (the user is being deleted); resolves with how many. */
  removeOwned(owner: string): Promise<number>
  /**
   * The user store's change hook: a user who is not an admin has their node-wide webhooks disabled, with
   * the reason (they carried every user's events to a member's URL, unseen by that member), in the same
   * write as the user: as two writes, a full disk between them stored the demotion and left them enabled.
   */
  userChanging: UserChangeHook
  /**
   * The token store's revocation hook: disables, with the reason, the webhooks these tokens of `owner`
   * registered (a stolen token's webhook went on sending the user's events to the thief after the token was
   * revoked), in the revocation's own batch: as two writes, a full disk between them left the token gone and
   * its webhook enabled for good (asking again found no token to revoke).
   */
  revoking: RevokeHook
  /** Enables (clearing the failure) or disables a webhook. */
  setEnabled(caller: Caller, id: string, enabled: boolean): Promise<WebhookView>
  /** Sends one `webhook.test` event now, outside the outbox; resolves with the attempt. */
  test(caller: Caller, id: string): Promise<{ event_id: string } & AttemptResult>
  deliveries(caller: Caller, id: string): Promise<DeliveryAttempt[]>
}

/**
 * Webhooks one user may own. Every event is POSTed once per webhook, so without a bound one member
 * could register thousands aimed at any public address and turn each pin into as many requests
 * (and as many outbox entries) from this node: an amplifier against a third party.
 */
export const MAX_WEBHOOKS_PER_USER = 20

/** What the service needs. */
export interface WebhooksComponents {
  store: WebhookStore
  outbox: Pick<Outbox, 'add' | 'wake' | 'hold' | 'drop' | 'waiting'>
  policy: TargetPolicy
  timeoutMs: number
}

/** Why a node-wide webhook was disabled when its owner stopped being an admin. */
export const NOT_ADMIN = 'its owner is no longer an admin (node-wide webhooks are an admin\'s)'

/** Why a webhook was disabled when the token that registered it was revoked. */
export const CREATOR_REVOKED = 'the token that registered it was revoked; enable it again if it is yours'

/** `owner`'s enabled webhooks that one of the tokens `tokenIds` registered. */
export function createdByOf (store: Pick<WebhookStore, 'all'>, owner: string, tokenIds: string[]): Webhook[] {
  const ids = new Set(tokenIds)
  return store.all().filter(h => h.owner === owner && h.createdBy != null && ids.has(h.createdBy) && h.enabled)
}

/** A change of webhooks that rides in another store's batch (webhook-store.ts, updateInBatch). */
export type WebhookWrites = ReturnType<WebhookStore['updateInBatch']>

/** The writes disabling what the revoked tokens `tokenIds` of `owner` registered (service and offline). */
export function disableCreatedBy (store: WebhookStore, owner: string, tokenIds: string[]): WebhookWrites {
  const ids = createdByOf(store, owner, tokenIds).map(h => h.id)
  return store.updateInBatch(ids, { enabled: false, disabledReason: CREATOR_REVOKED })
}

/** The writes disabling the node-wide webhooks of `user` unless they are an admin (service and offline). */
export function disableNodeWideOf (store: WebhookStore, user: User): WebhookWrites {
  const ids = user.role === 'admin' ? [] : nodeWideOf(store, user.name).map(h => h.id)
  return store.updateInBatch(ids, { enabled: false, disabledReason: NOT_ADMIN })
}

/** `owner`'s enabled node-wide webhooks. */
export function nodeWideOf (store: Pick<WebhookStore, 'all'>, owner: string): Webhook[] {
  return store.all().filter(h => h.owner === owner && h.all && h.enabled)
}

/** Creates the service. */
export function createWebhooks (components: WebhooksComponents): Webhooks {
  const { store, outbox, policy } = components
  // Counting and storing in one step per owner: creations that all counted before any of them was
  // stored (the target check awaits a DNS lookup in between) all passed the cap (60 at once made 25 of 20).
  const creating = createKeyedMutex()

  function view (h: Webhook): WebhookView {
    const waiting = outbox.waiting(h.id)
    return {
      id: h.id,
      url: h.url,
      events: h.events,
      description: h.description,
      all: h.all,
      owner: h.owner,
      created: h.created,
      enabled: h.enabled,
      ...(h.disabledReason != null ? { disabled_reason: h.disabledReason } : {}),
      ...(h.failingSince != null ? { failing_since: new Date(h.failingSince).toISOString() } : {}),
      pending: `${waiting.count}${waiting.more ? '+' : ''}`
    }
  }

  /** Disables webhooks in another store's batch; once it is written, parks what they wait for. */
  function disabling (writes: WebhookWrites): { extra: ExtraOp[], done(): Promise<void> } {
    return {
      extra: writes.extra,
      async done () {
        await writes.written()
        for (const id of writes.ids) await outbox.hold(id)
      }
    }
  }

  function owned (caller: Caller, id: string): Webhook {
    const hook = store.get(id)
    const mine = hook != null && hook.owner === caller.user && (!hook.all || caller.admin)
    if (!mine) throw new NotFoundError(`no webhook ${id}`)
    return hook
  }

  return {
    async create (caller, fields) {
      if (fields.all === true && !caller.admin) {
        throw new ForbiddenError('only an admin token can register a node-wide webhook (all: true)')
      }
      const url = policy.parseUrl(fields.url)
      await policy.check(url)
      return await creating.run(caller.user, async () => {
        const owned = store.all().filter(h => h.owner === caller.user).length
        if (owned >= MAX_WEBHOOKS_PER_USER) {
          throw new ConflictError(
            `user ${caller.user} has ${owned} webhooks, the most one user may have; delete one first`)
        }
        const hook = await store.create({
          owner: caller.user,
          all: fields.all === true,
          ...(caller.tokenId != null ? { createdBy: caller.tokenId } : {}),
          url: url.href,
          events: [...new Set(fields.events)],
          description: fields.description ?? ''
        })
        await outbox.add(hook.id)
        return { view: view(hook), secret: hook.secret }
      })
    },
    list: (caller) => store.all().filter(h => h.owner === caller.user && (!h.all || caller.admin)).map(view),
    get: (caller, id) => view(owned(caller, id)),
    async remove (caller, id) {
      owned(caller, id)
      await store.remove(id)
      await outbox.drop(id)
    },
    async removeOwned (owner) {
      const hooks = store.all().filter(h => h.owner === owner)
      for (const hook of hooks) {
        await store.remove(hook.id)
        await outbox.drop(hook.id)
      }
      return hooks.length
    },
    userChanging: (user) => disabling(disableNodeWideOf(store, user)),
    revoking: (owner, tokenIds) => disabling(disableCreatedBy(store, owner, tokenIds)),
    async setEnabled (caller, id, enabled) {
      owned(caller, id)
      // Enabled while the caller's token (and, node-wide, their admin role) holds: see WebhookStore.enable.
      const next = enabled
        ? await store.enable(id, caller.tokenId)
        : await store.update(id, { enabled: false, disabledReason: 'disabled by its owner' })
      if (next == null) throw new NotFoundError(`no webhook ${id}`)
      if (enabled) outbox.wake(id)
      else await outbox.hold(id)
      return view(next)
    },
    async test (caller, id) {
      const hook = owned(caller, id)
      const eventId = `test-${randomUUID()}`
      const at = Date.now()
      const time = new Date(at).toISOString()
      const body = JSON.stringify({ id: eventId, type: 'webhook.test', time, user: caller.user, webhook: hook.id })
      const { url, secret } = hook
      const result = await deliver({ url, secret, eventId, body, timeoutMs: components.timeoutMs, policy })
      store.recordAttempt(hook.id, at, {
        event_id: eventId,
        status_code: result.status ?? null,
        latency_ms: result.latencyMs,
        error: result.error ?? null
      })
      return { event_id: eventId, ...result }
    },
    async deliveries (caller, id) {
      owned(caller, id)
      return await store.attempts(id)
    }
  }
}

export { createWebhookStore, type WebhookStore, type Webhook, type DeliveryAttempt } from './webhook-store.js'
export { createOutbox, type Outbox, type OutboxInit } from './outbox.js'
export { forgetOutbox } from './lane-store.js'
export { createTargetPolicy, type TargetPolicy } from './target-policy.js'
export { signature } from './deliver.js'
