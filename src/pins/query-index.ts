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
import { Counts } from '../counts.js'
import { Interned, NONE, type TableDump } from './interned.js'
import { OwnerColumns, STATUS_CODE, type ColumnsDump } from './owner-columns.js'
import { PIN_STATES, type PinQuery, type PinRecord, type PinState, type TextMatch } from './types.js'

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
  /** Distinct interned values and owners held in memory (each is released once no record uses it). */
  stats(): IndexStats
  /** The whole index as plain data, for a snapshot (views of live columns: write them out at once). */
  dump(): IndexDump
  /** Loads a `dump()` into this index, which must be empty. */
  restore(dump: IndexDump): void
}

/** The index as plain data: enough to restore it exactly without reading a record. */
export interface IndexDump {
  total: number
  cids: TableDump
  names: TableDump
  metas: TableDump
  owners: Array<{ owner: string, columns: ColumnsDump }>
}

/** Sizes of the index's shared tables. */
export interface IndexStats {
  cids: number
  names: number
  metas: number
  owners: number
}

/** What one owner's records add up to. */
export interface OwnerUsage {
  counts: Record<PinState, number>
  /** dagSize summed once per distinct CID of the owner's pinned requests. */
  bytes: number
  /** Distinct CIDs among the owner's pinned requests. */
  cids: number
  /** Bytes of `meta` (as JSON) over all of the owner's requests, each counted (PINERY_MAX_META_BYTES_PER_USER). */
  metaBytes: number
}

/** What a request's `meta` counts against its owner's meta bytes: its JSON's UTF-8 bytes. */
export function metaBytesOf (meta: Record<string, string> | undefined): number {
  return meta == null ? 0 : Buffer.byteLength(JSON.stringify(meta))
}

// Below U+0300 every character is its own NFC form (Unicode's NFC_Quick_Check is Yes there): such a name skips
// the normalizer. On 1M distinct ASCII names: ~8 ms a query with this test, ~35 ms with normalize() alone.
const MAY_COMPOSE = /[\u0300-\uffff]/

/**
 * A name as filters compare it: its NFC form, so a name typed on a Mac or taken from its file system (NFD: "e"
 * and U+0301) is found by the same name typed precomposed (`ipfs pin remote ls --name café`) and the other way
 * round. The spec's "exact" is about case; two encodings of one text are one name to the person. Stored names
 * stay as they were given.
 */
function nfc (name: string): string {
  return MAY_COMPOSE.test(name) ? name.normalize('NFC') : name
}

/** Whether `s` is ASCII only. */
const ASCII = /^[^\u0080-\uffff]*$/

function nameMatcher (given: string, match: TextMatch): (name: string) => boolean {
  const wanted = nfc(given)
  const lowerWanted = wanted.toLowerCase()
  // The NFC form of a name is ASCII only where each character is ASCII or a singleton such as the Kelvin sign
  // (one UTF-16 unit for one): so an exact ASCII name matches only names of its length (~10 ms less a query).
  const length = ASCII.test(wanted) ? wanted.length : -1
  switch (match) {
    case 'exact': return (name) => name === wanted || ((length < 0 || name.length === length) && nfc(name) === wanted)
    case 'iexact': return (name) => nfc(name).toLowerCase() === lowerWanted
    case 'partial': return (name) => nfc(name).includes(wanted)
    case 'ipartial': return (name) => nfc(name).toLowerCase().includes(lowerWanted)
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
  // Each owner's summed meta bytes: what stored meta costs in memory and on disk grows with it.
  const metaBytes = new Counts<string>()
  const addMeta = (owner: string, json: string | undefined, sign: number): void => {
    if (json != null) metaBytes.add(owner, sign * Buffer.byteLength(json))
  }
  let total = 0

  return {
    put (record) {
      let cols = owners.get(record.owner)
      if (cols == null) { cols = new OwnerColumns(); owners.set(record.owner, cols) }
      const p = cols.find(record.created)
      if (p >= 0) {
        cols.setStatus(p, record)
        if (record.status === 'pinned' || record.status === 'failed') {
          for (const id of cols.charges.release(record.created)) cids.unref(id)
        }
        return
      }
      const name = record.pin.name == null ? NONE : names.ref(record.pin.name, record.pin.name)
      const json = record.pin.meta == null ? undefined : JSON.stringify(record.pin.meta)
      const meta = json == null ? NONE : metas.ref(json, record.pin.meta as Record<string, string>)
      addMeta(record.owner, json, 1)
      cols.insert(record, cids.ref(record.cidKey, record.cidKey), name, meta)
      if (record.holds != null && (record.status === 'queued' || record.status === 'pinning')) {
        // A held CID stays interned while it is held, even once no record names it; a sized one is
        // held even before (or without) a record naming it: a rebuild may meet the hold alone.
        const sizes = record.holdSizes ?? {}
        const keys = record.holds.filter(k => cids.find(k) != null || sizes[k] != null)
        const ids = keys.map(k => cids.ref(k, k))
        const held = new Set(cols.charges.hold(record.created, ids, keys.map(k => sizes[k])))
        for (const id of ids) if (!held.has(id)) cids.unref(id)
      }
      total++
    },

    remove (record) {
      const cols = owners.get(record.owner)
      const p = cols?.find(record.created) ?? -1
      if (cols == null || p < 0) return
      for (const id of cols.charges.release(record.created)) cids.unref(id)
      cids.unref(cols.cid[p] as number)
      names.unref(cols.name[p] as number)
      addMeta(record.owner, metas.keyOf(cols.meta[p] as number), -1)
      metas.unref(cols.meta[p] as number)
      cols.remove(p)
      total--
      // An owner without records takes no memory (their columns may have grown large).
      if (cols.counts.every(n => n === 0)) owners.delete(record.owner)
    },

    size () {
      return total
    },

    dump () {
      return {
        total,
        cids: cids.dump(),
        names: names.dump(),
        metas: metas.dump(),
        owners: [...owners].map(([owner, cols]) => ({ owner, columns: cols.dump() }))
      }
    },

    restore (dump) {
      if (total !== 0 || owners.size !== 0) throw new Error('restore needs an empty index')
      cids.restore(dump.cids, key => key)
      names.restore(dump.names, key => key)
      metas.restore(dump.metas, key => JSON.parse(key) as Record<string, string>)
      for (const { owner, columns } of dump.owners) {
        const cols = OwnerColumns.restore(columns)
        owners.set(owner, cols)
        for (const p of cols.live()) addMeta(owner, metas.keyOf(cols.meta[p] as number), 1)
      }
      total = dump.total
    },

    stats () {
      return { cids: cids.size, names: names.size, metas: metas.size, owners: owners.size }
    },

    countsByStatus () {
      const out = Object.fromEntries(PIN_STATES.map(s => [s, 0])) as Record<PinState, number>
      for (const cols of owners.values()) PIN_STATES.forEach((s, i) => { out[s] += cols.counts[i] as number })
      return out
    },

    usage (owner) {
      const cols = owners.get(owner)
      const counts = Object.fromEntries(PIN_STATES.map((s, i) => [s, cols?.counts[i] ?? 0])) as Record<PinState, number>
      const { bytes, cids: distinct } = cols?.charges ?? { bytes: 0, cids: 0 }
      return { counts, bytes, cids: distinct, metaBytes: metaBytes.count(owner) }
    },

    owners () {
      return [...owners].filter(([, cols]) => cols.counts.some(n => n > 0)).map(([owner]) => owner)
    },

    chargeOf (owner, cidKey) {
      const id = cids.find(cidKey)
      return id == null ? undefined : owners.get(owner)?.charges.of(id)
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
      const byName = q.name == null ? undefined : memo(names.values as string[], nameMatcher(q.name, q.match))
      // An empty filter names no key to match: every request matches, those without meta too.
      const pairs = q.meta == null || Object.keys(q.meta).length === 0 ? undefined : Object.entries(q.meta)
      const metaMatches = (m: Record<string, string>): boolean =>
        pairs?.every(([k, v]) => Object.hasOwn(m, k) && m[k] === v) ?? true
      const byMeta = pairs == null ? undefined : memo(metas.values as Array<Record<string, string>>, metaMatches)
      const { status, name, meta } = cols
      const matches = (i: number): boolean =>
        wanted[status[i] as number] === 1 &&
        (byName == null || byName(name[i] as number)) &&
        (byMeta == null || byMeta(meta[i] as number))

      // A CID filter narrows the candidates to a few positions.
      if (cidKeys != null) {
        const positions = [...cidKeys].flatMap(k => {
          const id = cids.find(k)
          return id == null ? [] : cols.byCid.get(id) ?? []
        })
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
