/**
 * What a failed webhook delivery does: the entry is parked in LevelDB with its
 * attempts and next attempt (exponential backoff with jitter, so retries
 * survive restarts), its lane pauses until then, and a webhook whose
 * deliveries have failed for `disableAfterMs` is disabled with the reason.
 * Apart from outbox.ts, which sends and decides when; this decides what a
 * failure costs the webhook.
 */
import { encodeEntry, keyOf, type Entry } from './outbox-entries.js'
import type { Lane } from './lane.js'
import type { LaneStore } from './lane-store.js'
import type { OutboxInit } from './outbox.js'
import type { WebhookStore, Webhook } from './webhook-store.js'
import type { Logger } from '../logger.js'

/** The outbox's settings that failures follow (backoff bounds, how long until a webhook is disabled). */
export type FailurePolicyInit = Pick<OutboxInit, 'retryMinMs' | 'retryMaxMs' | 'disableAfterMs'>

/** What handling a failure needs: the webhook to disable, the lane store to park in, the outbox's logger. */
export interface FailurePolicyComponents {
  store: Pick<WebhookStore, 'get' | 'update'>
  durable: Pick<LaneStore, 'write' | 'hold'>
  log: Logger
}

/** Handles the outbox's failed attempts. */
export interface FailurePolicy {
  /** Parks a failed entry with its next attempt; disables a webhook failing for `disableAfterMs`. */
  failed(lane: Lane, hook: Webhook, entry: Entry, now: number, error?: string): Promise<void>
}

/** Creates the failure handling of one outbox. */
export function createFailurePolicy (init: FailurePolicyInit, components: FailurePolicyComponents): FailurePolicy {
  const { store, durable, log } = components

  function backoff (failures: number): number {
    const base = Math.min(init.retryMaxMs, init.retryMinMs * 2 ** Math.min(failures - 1, 40))
    return Math.round(base * (0.5 + Math.random() * 0.5))
  }

  /** Parks a failed entry with its next attempt; disables a webhook failing for `disableAfterMs`. */
  async function failed (lane: Lane, hook: Webhook, entry: Entry, now: number, error?: string): Promise<void> {
    entry.attempts++
    lane.failures++
    entry.nextAt = now + backoff(Math.max(lane.failures, entry.attempts))
    lane.pausedUntil = Math.max(lane.pausedUntil, entry.nextAt)
    await durable.write([{ type: 'put', key: keyOf(entry), value: encodeEntry(entry) }])
    entry.parked = true
    const current = store.get(hook.id)
    if (current == null || !current.enabled) return
    const since = current.failingSince ?? now
    if (now - since >= init.disableAfterMs) {
      const minutes = Math.round((now - since) / 60_000)
      const reason = `deliveries failed for ${minutes} min since ${new Date(since).toISOString()}; ` +
        `last: ${error ?? 'failed'}`
      log.warn({ webhook: hook.id, reason }, 'webhook disabled')
      await store.update(hook.id, { enabled: false, disabledReason: reason })
      await durable.hold(lane)
    } else if (current.failingSince == null) {
      await store.update(hook.id, { failingSince: now })
    }
  }

  return { failed }
}
