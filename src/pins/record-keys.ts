/**
 * Where a pin record lives in LevelDB: every key a record occupies and how its
 * value is encoded. Only the record store (record-store.ts, which describes
 * the layout) writes or reads these keys.
 */
import { queuePlace, type PinRecord } from './types.js'

/** The prefix of every key of Pinery's in the datastore's LevelDB. */
export const PREFIX = '/pinery/'
// 15 digits cover ms timestamps for the next 30,000 years and sort lexically.
const pad = (ms: number): string => ms.toString().padStart(15, '0')
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const EMPTY = new Uint8Array(0)

/** The record's own key: per user, ordered by `created`. */
function ownKey (r: PinRecord): string {
  return `${PREFIX}own/${r.owner}/${pad(r.created)}`
}

/** The key of a queued or pinning record's entry in the pending range: at its place in the queue. */
export function pendingKey (r: PinRecord): string {
  return `${PREFIX}pending/${pad(queuePlace(r))}/${r.requestid}`
}

/**
 * Every key a record occupies, mapped to its value; without `withRecord` the
 * record's own value and its pending entry's are left empty (for keys to delete
 * or compare, not to write).
 */
export function entries (r: PinRecord, withRecord = true): Map<string, Uint8Array> {
  const own = ownKey(r)
  const json = withRecord ? encoder.encode(JSON.stringify(r)) : EMPTY
  const map = new Map<string, Uint8Array>([
    [own, json],
    [`${PREFIX}req/${r.requestid}`, encoder.encode(own)],
    [`${PREFIX}created/${pad(r.created)}`, encoder.encode(own)]
  ])
  const refs = new Set(r.holds ?? [])
  if (r.status !== 'failed') refs.add(r.cidKey)
  for (const cidKey of refs) map.set(`${PREFIX}ref/${cidKey}/${r.requestid}`, EMPTY)
  if (r.status === 'queued' || r.status === 'pinning') {
    map.set(pendingKey(r), json)
    if (r.upload != null) map.set(`${PREFIX}upload-ref/${r.upload}/${r.requestid}`, EMPTY)
  }
  return map
}

/** A stored record's value back as a record. */
export function decode (value: Uint8Array): PinRecord {
  const r = JSON.parse(decoder.decode(value)) as PinRecord
  // Mostly the same text: one string rather than two (~80 bytes for each of 100k resumed records).
  if (r.pin.cid === r.cidKey) r.pin.cid = r.cidKey
  return r
}
