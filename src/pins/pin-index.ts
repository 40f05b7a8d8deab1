/**
 * An in-memory index of every pin request, for GET /pins. Per owner it keeps
 * columns in `created` order (created is unique and increasing, so new
 * records append), per-status counts and a CID → positions map. Queries
 * binary-search the before/after bounds and scan packed columns, so counts
 * stay exact without reading LevelDB; only the returned page is read there.
 * Deleted entries are tombstoned and compacted away in bulk.
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
  /** Number of records indexed. */
  size(): number
}

const DELETED = 255
const STATUS_CODE = new Map<PinState, number>(PIN_STATES.map((s, i) => [s, i]))

class OwnerColumns {
  created: number[] = []
  ids: string[] = []
  status: number[] = []
  cidKeys: string[] = []
  names: Array<string | undefined> = []
  lowerNames: Array<string | undefined> = []
  metas: Array<Record<string, string> | undefined> = []
  positionById = new Map<string, number>()
  byCid = new Map<string, number[]>()
  counts = PIN_STATES.map(() => 0)
  deleted = 0

  /** Position of the first entry with created > ms. */
  upperBound (ms: number): number {
    let lo = 0
    let hi = this.created.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.created[mid] as number) <= ms) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Position of the first entry with created >= ms. */
  lowerBound (ms: number): number {
    return this.upperBound(ms - 1)
  }

  put (r: PinRecord): void {
    const at = this.positionById.get(r.requestid)
    if (at != null) {
      this.counts[this.status[at] as number]!--
      this.status[at] = STATUS_CODE.get(r.status) as number
      this.counts[this.status[at] as number]!++
      return
    }
    // Records arrive in created order, except while loading from several sources.
    let pos = this.created.length
    if (pos > 0 && (this.created[pos - 1] as number) > r.created) pos = this.upperBound(r.created)
    const insert = <T>(column: T[], value: T): void => { if (pos === column.length) column.push(value); else column.splice(pos, 0, value) }
    insert(this.created, r.created)
    insert(this.ids, r.requestid)
    insert(this.status, STATUS_CODE.get(r.status) as number)
    insert(this.cidKeys, r.cidKey)
    insert(this.names, r.pin.name)
    insert(this.lowerNames, r.pin.name?.toLowerCase())
    insert(this.metas, r.pin.meta)
    this.counts[STATUS_CODE.get(r.status) as number]!++
    if (pos === this.created.length - 1) {
      this.positionById.set(r.requestid, pos)
      const list = this.byCid.get(r.cidKey)
      if (list == null) this.byCid.set(r.cidKey, [pos])
      else list.push(pos)
    } else {
      this.rebuildMaps()
    }
  }

  remove (requestid: string): void {
    const at = this.positionById.get(requestid)
    if (at == null) return
    this.counts[this.status[at] as number]!--
    this.status[at] = DELETED
    this.positionById.delete(requestid)
    const list = this.byCid.get(this.cidKeys[at] as string)
    if (list != null) {
      const i = list.indexOf(at)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.byCid.delete(this.cidKeys[at] as string)
    }
    if (++this.deleted > 1024 && this.deleted * 4 > this.created.length) this.compact()
  }

  private compact (): void {
    const keep = this.status.map((s, i) => s === DELETED ? -1 : i).filter(i => i >= 0)
    const pick = <T>(column: T[]): T[] => keep.map(i => column[i] as T)
    this.created = pick(this.created)
    this.ids = pick(this.ids)
    this.status = pick(this.status)
    this.cidKeys = pick(this.cidKeys)
    this.names = pick(this.names)
    this.lowerNames = pick(this.lowerNames)
    this.metas = pick(this.metas)
    this.deleted = 0
    this.rebuildMaps()
  }

  private rebuildMaps (): void {
    this.positionById.clear()
    this.byCid.clear()
    for (let i = 0; i < this.ids.length; i++) {
      if (this.status[i] === DELETED) continue
      this.positionById.set(this.ids[i] as string, i)
      const list = this.byCid.get(this.cidKeys[i] as string)
      if (list == null) this.byCid.set(this.cidKeys[i] as string, [i])
      else list.push(i)
    }
  }
}

function nameMatcher (wanted: string, match: TextMatch): (name: string | undefined, lower: string | undefined) => boolean {
  const lowerWanted = wanted.toLowerCase()
  switch (match) {
    case 'exact': return (name) => name === wanted
    case 'iexact': return (_name, lower) => lower === lowerWanted
    case 'partial': return (name) => name?.includes(wanted) === true
    case 'ipartial': return (_name, lower) => lower?.includes(lowerWanted) === true
  }
}

/** Creates an empty index. */
export function createPinIndex (): PinIndex {
  const owners = new Map<string, OwnerColumns>()
  let total = 0

  return {
    put (record) {
      let cols = owners.get(record.owner)
      if (cols == null) { cols = new OwnerColumns(); owners.set(record.owner, cols) }
      const known = cols.positionById.has(record.requestid)
      cols.put(record)
      if (!known) total++
    },

    remove (record) {
      const cols = owners.get(record.owner)
      if (cols?.positionById.has(record.requestid) !== true) return
      cols.remove(record.requestid)
      total--
    },

    size () {
      return total
    },

    query (owner, q, cidKeys) {
      const cols = owners.get(owner)
      if (cols == null) return { count: 0, requestids: [] }
      const wanted = new Set(q.statuses.map(s => STATUS_CODE.get(s) as number))
      // Exclusive bounds: created in (after, before).
      const end = q.before == null ? cols.created.length : cols.lowerBound(q.before)
      const start = q.after == null ? 0 : cols.upperBound(q.after)
      const name = q.name == null ? undefined : nameMatcher(q.name, q.match)
      const meta = q.meta == null ? undefined : Object.entries(q.meta)
      const matches = (i: number): boolean => {
        if (!wanted.has(cols.status[i] as number)) return false
        if (name != null && !name(cols.names[i], cols.lowerNames[i])) return false
        if (meta != null) {
          const m = cols.metas[i]
          if (m == null) return false
          for (const [k, v] of meta) if (!Object.hasOwn(m, k) || m[k] !== v) return false
        }
        return true
      }

      // A CID filter narrows the candidates to a few positions.
      if (cidKeys != null) {
        const positions = [...cidKeys].flatMap(k => cols.byCid.get(k) ?? []).filter(i => i >= start && i < end && matches(i)).sort((a, b) => b - a)
        return { count: positions.length, requestids: positions.slice(0, q.limit).map(i => cols.ids[i] as string) }
      }

      // Status alone over the whole range: the count is kept, only the page is scanned for.
      const statusOnly = name == null && meta == null
      const requestids: string[] = []
      let count = 0
      let i = end - 1
      for (; i >= start && requestids.length < q.limit; i--) {
        if (matches(i)) { count++; requestids.push(cols.ids[i] as string) }
      }
      if (statusOnly && start === 0 && end === cols.created.length) {
        count = [...wanted].reduce((sum, s) => sum + (cols.counts[s] as number), 0)
      } else if (statusOnly) {
        for (; i >= start; i--) if (wanted.has(cols.status[i] as number)) count++
      } else {
        for (; i >= start; i--) if (matches(i)) count++
      }
      return { count, requestids }
    }
  }
}
