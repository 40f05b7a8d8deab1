/**
 * An in-memory index of every pin request, for GET /pins. Per owner it keeps
 * typed-array columns in `created` order (created is unique and increasing,
 * so new records append): created, status, and interned ids of the CID, name
 * and meta. A name or meta filter is evaluated once per distinct value per
 * query, then each record costs an array lookup. before/after are binary
 * searches, counts stay exact, and only the returned page is read from
 * LevelDB. Request IDs are kept as 16 UUID bytes. Deleted entries are
 * tombstoned and compacted in bulk. A million records take ~100 bytes each.
 */
import { PIN_STATES, type PinQuery, type PinRecord, type PinState, type TextMatch } from './index.js'

/** Matching request IDs (newest first, at most `limit`) and the total count. */
export interface IndexPage {
  count: number
  requestids: string[]
}

/** The index. */
export interface PinIndex {
  put(record: PinRecord): void
  remove(record: PinRecord): void
  /** Runs a query; `cidKeys` are the canonical keys of `query.cids`. */
  query(owner: string, query: PinQuery, cidKeys?: Set<string>): IndexPage
  /** The status of a record as last written, or undefined once it is removed. */
  statusOf(record: Pick<PinRecord, 'owner' | 'created'>): PinState | undefined
  /** Number of records indexed. */
  size(): number
  /** Records by status across all owners. */
  countsByStatus(): Record<PinState, number>
  /** One owner's requests by status and what their pinned requests are charged. */
  usage(owner: string): OwnerUsage
  /** Owners with at least one record indexed. */
  owners(): string[]
  /** What `owner` is charged for `cidKey`: its size and how many pinned requests name it. */
  chargeOf(owner: string, cidKey: string): { refs: number, size: number } | undefined
}

/** What one owner's records add up to. */
export interface OwnerUsage {
  counts: Record<PinState, number>
  /** dagSize summed once per distinct CID of the owner's pinned requests. */
  bytes: number
  /** Distinct CIDs among the owner's pinned requests. */
  cids: number
}

const DELETED = 255
const NONE = -1
const STATUS_CODE = new Map<PinState, number>(PIN_STATES.map((s, i) => [s, i]))
const PINNED = STATUS_CODE.get('pinned') as number
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Strings (or values keyed by a string) stored once, referred to by number. */
class Interned<T> {
  private readonly ids = new Map<string, number>()
  readonly values: T[] = []
  id (key: string, value: T): number {
    let id = this.ids.get(key)
    if (id == null) { id = this.values.length; this.ids.set(key, id); this.values.push(value) }
    return id
  }
  find (key: string): number | undefined { return this.ids.get(key) }
}

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

class OwnerColumns {
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
  /** CID id → pinned records naming it (or holding it) and the dagSize charged for it (once per CID). */
  charged = new Map<number, { refs: number, size: number }>()
  bytes = 0
  /** `created` of an unsettled replacement → the charged CIDs it holds (still on disk for it). */
  holding = new Map<number, number[]>()

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
      for (const col of [this.created, this.status, this.cid, this.name, this.meta]) col.copyWithin(p + 1, p, this.length)
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
    if (r.status === 'pinned') this.charge(cid, r.dagSize ?? 0)
  }

  setStatus (p: number, r: PinRecord): void {
    if (this.status[p] === PINNED) this.uncharge(this.cid[p] as number)
    this.counts[this.status[p] as number]!--
    this.status[p] = STATUS_CODE.get(r.status) as number
    this.counts[this.status[p] as number]!++
    if (r.status === 'pinned') this.charge(this.cid[p] as number, r.dagSize ?? 0)
  }

  /** Keeps the charges of CIDs a replacement holds until it settles. */
  hold (created: number, cids: number[]): void {
    const held = cids.filter(id => this.charged.has(id))
    for (const id of held) this.charge(id, 0)
    if (held.length > 0) this.holding.set(created, held)
  }

  /** Drops what `created` held (it settled or went away). */
  release (created: number): void {
    for (const id of this.holding.get(created) ?? []) this.uncharge(id)
    this.holding.delete(created)
  }

  private charge (cid: number, size: number): void {
    const entry = this.charged.get(cid)
    if (entry != null) { entry.refs++; return }
    this.charged.set(cid, { refs: 1, size })
    this.bytes += size
  }

  private uncharge (cid: number): void {
    const entry = this.charged.get(cid)
    if (entry == null) return
    if (--entry.refs > 0) return
    this.charged.delete(cid)
    this.bytes -= entry.size
  }

  remove (p: number): void {
    if (this.status[p] === PINNED) this.uncharge(this.cid[p] as number)
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
}

function nameMatcher (wanted: string, match: TextMatch): (name: string) => boolean {
  const lowerWanted = wanted.toLowerCase()
  switch (match) {
    case 'exact': return (name) => name === wanted
    case 'iexact': return (name) => name.toLowerCase() === lowerWanted
    case 'partial': return (name) => name.includes(wanted)
    case 'ipartial': return (name) => name.toLowerCase().includes(lowerWanted)
  }
}

/** Evaluates a predicate at most once per interned value during one query. */
function memo<T> (values: T[], test: (value: T) => boolean): (id: number) => boolean {
  const seen = new Uint8Array(values.length) // 0 unknown, 1 yes, 2 no
  return (id) => {
    if (id === NONE) return false
    let v = seen[id]
    if (v === 0) { v = test(values[id] as T) ? 1 : 2; seen[id] = v }
    return v === 1
  }
}

/** Creates an empty index. */
export function createPinIndex (): PinIndex {
  const owners = new Map<string, OwnerColumns>()
  const cids = new Interned<string>()
  const names = new Interned<string>()
  const metas = new Interned<Record<string, string>>()
  let total = 0

  return {
    put (record) {
      let cols = owners.get(record.owner)
      if (cols == null) { cols = new OwnerColumns(); owners.set(record.owner, cols) }
      const p = cols.find(record.created)
      if (p >= 0) {
        cols.setStatus(p, record)
        if (record.status === 'pinned' || record.status === 'failed') cols.release(record.created)
        return
      }
      const name = record.pin.name == null ? NONE : names.id(record.pin.name, record.pin.name)
      const meta = record.pin.meta == null ? NONE : metas.id(JSON.stringify(record.pin.meta), record.pin.meta)
      cols.insert(record, cids.id(record.cidKey, record.cidKey), name, meta)
      if (record.holds != null && (record.status === 'queued' || record.status === 'pinning')) {
        cols.hold(record.created, record.holds.flatMap(k => cids.find(k) ?? []))
      }
      total++
    },

    remove (record) {
      const cols = owners.get(record.owner)
      const p = cols?.find(record.created) ?? -1
      if (cols == null || p < 0) return
      cols.remove(p)
      cols.release(record.created)
      total--
    },

    size () {
      return total
    },

    countsByStatus () {
      const out = Object.fromEntries(PIN_STATES.map(s => [s, 0])) as Record<PinState, number>
      for (const cols of owners.values()) PIN_STATES.forEach((s, i) => { out[s] += cols.counts[i] as number })
      return out
    },

    usage (owner) {
      const cols = owners.get(owner)
      const counts = Object.fromEntries(PIN_STATES.map((s, i) => [s, cols?.counts[i] ?? 0])) as Record<PinState, number>
      return { counts, bytes: cols?.bytes ?? 0, cids: cols?.charged.size ?? 0 }
    },

    owners () {
      return [...owners].filter(([, cols]) => cols.counts.some(n => n > 0)).map(([owner]) => owner)
    },

    chargeOf (owner, cidKey) {
      const id = cids.find(cidKey)
      const entry = id == null ? undefined : owners.get(owner)?.charged.get(id)
      return entry == null ? undefined : { ...entry }
    },

    statusOf (record) {
      const cols = owners.get(record.owner)
      const p = cols?.find(record.created) ?? -1
      return cols == null || p < 0 ? undefined : PIN_STATES[cols.status[p] as number]
    },

    query (owner, q, cidKeys) {
      const cols = owners.get(owner)
      if (cols == null) return { count: 0, requestids: [] }
      const wanted = new Uint8Array(256)
      for (const s of q.statuses) wanted[STATUS_CODE.get(s) as number] = 1
      // Exclusive bounds: created in (after, before).
      const end = q.before == null ? cols.length : cols.upperBound(q.before - 1)
      const start = q.after == null ? 0 : cols.upperBound(q.after)
      const byName = q.name == null ? undefined : memo(names.values, nameMatcher(q.name, q.match))
      const pairs = q.meta == null ? undefined : Object.entries(q.meta)
      const byMeta = pairs == null ? undefined : memo(metas.values, m => pairs.every(([k, v]) => Object.hasOwn(m, k) && m[k] === v))
      const { status, name, meta } = cols
      const matches = (i: number): boolean =>
        wanted[status[i] as number] === 1 &&
        (byName == null || byName(name[i] as number)) &&
        (byMeta == null || byMeta(meta[i] as number))

      // A CID filter narrows the candidates to a few positions.
      if (cidKeys != null) {
        const positions = [...cidKeys].flatMap(k => { const id = cids.find(k); return id == null ? [] : cols.byCid.get(id) ?? [] })
          .map(created => cols.find(created)).filter(i => i >= start && i < end && matches(i)).sort((a, b) => b - a)
        return { count: positions.length, requestids: positions.slice(0, q.limit).map(i => cols.requestid(i)) }
      }

      const requestids: string[] = []
      let count = 0
      let i = end - 1
      for (; i >= start && requestids.length < q.limit; i--) {
        if (matches(i)) { count++; requestids.push(cols.requestid(i)) }
      }
      if (byName == null && byMeta == null && start === 0 && end === cols.length) {
        // Status alone over everything: the counts are kept.
        count = q.statuses.reduce((sum, s) => sum + (cols.counts[STATUS_CODE.get(s) as number] as number), 0)
      } else {
        for (; i >= start; i--) if (matches(i)) count++
      }
      return { count, requestids }
    }
  }
}
