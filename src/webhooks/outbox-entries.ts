/**
 * The outbox's entries: how one pending delivery is held in a webhook's
 * in-memory window, made for an event, and (once parked: it failed, or the
 * log is about to drop its event) keyed and stored in LevelDB. The key layout
 * is described in outbox.ts.
 */
import type { Webhook } from './webhook-store.js'
import type { LoggedEvent } from '../events/event-log.js'

/** Where parked entries live in LevelDB. */
export const PREFIX = '/pinery/wh-out/'
/** Where each webhook's cursor lives. */
export const CURSOR = '/pinery/wh-cur/'
const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** An event id as it sorts in a key (16 digits). */
export const pad = (id: number): string => id.toString().padStart(16, '0')

/** One pending delivery of one event to one webhook. */
export interface Entry {
  /** The webhook's id (its key is made from it and `id` when stored: `keyOf`). */
  webhook: string
  id: number
  requestid: string
  /** The event's JSON, as sent (shared by every webhook's entry of the event). */
  body: Uint8Array
  attempts: number
  nextAt: number
  /** Stored in LevelDB (it is deleted once delivered); otherwise only the cursor stands for it. */
  parked: boolean
  /** Delivered (gone from the window). */
  done?: boolean
}

/** The stored form. */
export function encodeEntry (e: Entry): Uint8Array {
  return Buffer.concat([encoder.encode(`${e.attempts} ${e.nextAt} ${e.requestid}\n`), e.body])
}

/**
 * Where an entry is (or would be) stored. Made when needed, not held by every entry: nearly all are delivered
 * at their first attempt and never stored, and a key per webhook per event outlived V8's young generation.
 */
export const keyOf = (e: Entry): string => `${PREFIX}${e.webhook}/${pad(e.id)}`

/** The entry stored under `key`. */
export function decodeEntry (key: string, value: Uint8Array): Entry {
  const nl = value.indexOf(10)
  const [attempts, nextAt, requestid] = decoder.decode(value.subarray(0, nl)).split(' ') as [string, string, string]
  const slash = key.lastIndexOf('/')
  const id = Number(key.slice(slash + 1))
  const webhook = key.slice(PREFIX.length, slash)
  const body = value.subarray(nl + 1)
  return { webhook, id, requestid, body, attempts: Number(attempts), nextAt: Number(nextAt), parked: true }
}

/** A new entry of webhook `id` for event `e`, whose JSON is `bytes`. */
export const entryOf = (id: string, e: LoggedEvent, bytes: Uint8Array): Entry =>
  ({ webhook: id, id: e.id, requestid: e.event.pin.requestid,
    body: bytes, attempts: 0, nextAt: 0, parked: false })

/**
 * Whether `hook` wants event `e`: enabled (or disabled after `e` was published: it waited for it), subscribed
 * to its type, and its owner's or node-wide.
 */
export const matches = (hook: Webhook, e: LoggedEvent): boolean =>
  (hook.enabled || e.id <= (hook.disabledAfter ?? -1)) && hook.events.includes(e.event.type) &&
  (hook.all || hook.owner === e.event.user)
