/**
 * One owner's pin records as typed-array columns in `created` order
 * (created is unique and increasing, so new records append): created,
 * status, and interned ids of the CID, name and meta, plus request IDs as
 * 16 UUID bytes. Deleted entries are tombstoned and compacted in bulk.
 */
import { Charges, type ChargesDump } from './charges.js'
import { PIN_STATES, type PinRecord, type PinState } from './types.js'

const DELETED = 255
/** Status codes of the status column. */
export const STATUS_CODE = new Map<PinState, number>(PIN_STATES.map((s, i) => [s, i]))
const PINNED = STATUS_CODE.get('pinned') as number
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function uuidBytes (id: string, into: Uint8Array, at: number): boolean {
  if (!UUID.test(id)) return false
  const hex = id.replaceAll('-', '')
  for (let i = 0; i < 16; i++) into[at + i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return true
}

function uuidString (from: Uint8Array, at: number): string {
  let hex = ''
  for (let i = 0; i < 16; i++) hex += (from[at + i] as number).toString(16).padStart(2, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function grow<A extends Float64Array | Uint8Array | Int32Array> (a: A, size: number): A {
  if (size <= a.length) return a
  const bigger = new (a.constructor as new (n: number) => A)(Math.max(size, a.length * 2, 64))
  bigger.set(a)
  return bigger
}

/** One owner's columns as plain data (each column `length` long), for the index snapshot. */
export interface ColumnsDump {
  length: number
  deleted: number
  counts: number[]
  otherIds: Array<[number, string]>
  charges: ChargesDump
  created: Float64Array
  status: Uint8Array
  cid: Int32Array
  name: Int32Array
  meta: Int32Array
  ids: Uint8Array
}

/** One owner's columns. */
export class OwnerColumns {
  length = 0
  created = new Float64Array(0)
  status = new Uint8Array(0)
  cid = new Int32Array(0)
  name = new Int32Array(0)
  meta = new Int32Array(0)
  ids = new Uint8Array(0)
  /** Request IDs that are not UUIDs, by position. */
  otherIds = new Map<number, string>()
  /** CID id → `created` of the records naming it (stable across inserts and compaction). */
  byCid = new Map<number, number[]>()
  counts = PIN_STATES.map(() => 0)
  deleted = 0
  /** What this owner is charged for storage. */
  charges = new Charges()

  /** Position of the first entry with created > ms. */
  upperBound (ms: number): number {
    let lo = 0
    let hi = this.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.created[mid] as number) <= ms) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Position of the entry created at `ms` (created is unique), or -1. */
  find (ms: number): number {
    const p = this.upperBound(ms) - 1
    return p >= 0 && this.created[p] === ms && this.status[p] !== DELETED ? p : -1
  }

  requestid (p: number): string {
    return this.otherIds.get(p) ?? uuidString(this.ids, p * 16)
  }

  insert (r: PinRecord, cid: number, name: number, meta: number): void {
    const n = this.length + 1
    this.created = grow(this.created, n)
    this.status = grow(this.status, n)
    this.cid = grow(this.cid, n)
    this.name = grow(this.name, n)
    this.meta = grow(this.meta, n)
    this.ids = grow(this.ids, n * 16)
    let p = this.length
    if (p > 0 && (this.created[p - 1] as number) > r.created) {
      // Out of order (only while loading from several sources): shift the tail.
      p = this.upperBound(r.created)
      for (const col of [this.created, this.status, this.cid, this.name, this.meta]) {
        col.copyWithin(p + 1, p, this.length)
      }
      this.ids.copyWithin((p + 1) * 16, p * 16, this.length * 16)
      this.otherIds = new Map([...this.otherIds].map(([at, id]) => [at >= p ? at + 1 : at, id]))
      this.length = n
    } else {
      this.length = n
    }
    this.write(p, r, cid, name, meta)
    const list = this.byCid.get(cid)
    if (list == null) this.byCid.set(cid, [r.created])
    else list.push(r.created)
  }

  private write (p: number, r: PinRecord, cid: number, name: number, meta: number): void {
    this.created[p] = r.created
    this.status[p] = STATUS_CODE.get(r.status) as number
    this.cid[p] = cid
    this.name[p] = name
    this.meta[p] = meta
    if (!uuidBytes(r.requestid, this.ids, p * 16)) this.otherIds.set(p, r.requestid)
    this.counts[this.status[p] as number]!++
    if (r.status === 'pinned') this.charges.charge(cid, r.dagSize ?? 0)
  }

  setStatus (p: number, r: PinRecord): void {
    if (this.status[p] === PINNED) this.charges.uncharge(this.cid[p] as number)
    this.counts[this.status[p] as number]!--
    this.status[p] = STATUS_CODE.get(r.status) as number
    this.counts[this.status[p] as number]!++
    if (r.status === 'pinned') this.charges.charge(this.cid[p] as number, r.dagSize ?? 0)
  }

  /** Positions of the records present (not deleted). */
  * live (): Generator<number> {
    for (let p = 0; p < this.length; p++) if (this.status[p] !== DELETED) yield p
  }

  remove (p: number): void {
    if (this.status[p] === PINNED) this.charges.uncharge(this.cid[p] as number)
    this.counts[this.status[p] as number]!--
    this.status[p] = DELETED
    const list = this.byCid.get(this.cid[p] as number)
    if (list != null) {
      const i = list.indexOf(this.created[p] as number)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.byCid.delete(this.cid[p] as number)
    }
    if (++this.deleted > 1024 && this.deleted * 4 > this.length) this.compact()
  }

  private compact (): void {
    let w = 0
    const others = new Map<number, string>()
    for (let r = 0; r < this.length; r++) {
      if (this.status[r] === DELETED) continue
      this.created[w] = this.created[r] as number
      this.status[w] = this.status[r] as number
      this.cid[w] = this.cid[r] as number
      this.name[w] = this.name[r] as number
      this.meta[w] = this.meta[r] as number
      this.ids.copyWithin(w * 16, r * 16, r * 16 + 16)
      const other = this.otherIds.get(r)
      if (other != null) others.set(w, other)
      w++
    }
    this.length = w
    this.otherIds = others
    this.deleted = 0
  }

  /** The columns as plain data (views of the live columns: write them out before the next change). */
  dump (): ColumnsDump {
    const n = this.length
    return {
      length: n,
      deleted: this.deleted,
      counts: [...this.counts],
      otherIds: [...this.otherIds],
      charges: this.charges.dump(),
      created: this.created.subarray(0, n),
      status: this.status.subarray(0, n),
      cid: this.cid.subarray(0, n),
      name: this.name.subarray(0, n),
      meta: this.meta.subarray(0, n),
      ids: this.ids.subarray(0, n * 16)
    }
  }

  /** Columns read back from `dump()`; the CID lists are derived again. */
  static restore (d: ColumnsDump): OwnerColumns {
    const cols = new OwnerColumns()
    Object.assign(cols, {
      length: d.length,
      deleted: d.deleted,
      counts: [...d.counts],
      otherIds: new Map(d.otherIds),
      charges: Charges.restore(d.charges),
      created: d.created,
      status: d.status,
      cid: d.cid,
      name: d.name,
      meta: d.meta,
      ids: d.ids
    })
    for (let p = 0; p < d.length; p++) {
      if (d.status[p] === DELETED) continue
      const id = d.cid[p] as number
      const list = cols.byCid.get(id)
      if (list == null) cols.byCid.set(id, [d.created[p] as number])
      else list.push(d.created[p] as number)
    }
    // Copied to their exact size: grown by push, a list of 20 keeps room for 41 (the lists were
    // 21 of the 68 MiB a restored 1M-record index held).
    for (const [id, list] of cols.byCid) if (list.length > 1) cols.byCid.set(id, list.slice())
    return cols
  }
}
