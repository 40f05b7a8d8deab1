/**
 * The query index's shared tables (CIDs, names, meta): each value stored once, referred to by number.
 * Split from query-index.ts, which keeps the per-owner columns and the queries.
 */

/** The number that stands for "no value" (a request without a name or meta). */
export const NONE = -1

/** An interned table as plain data: each id's key (null when free) and use count. */
export interface TableDump {
  keys: Array<string | null>
  refs: number[]
}

/**
 * Strings (or values keyed by a string) stored once, referred to by number,
 * and counted: a value no record uses any more is dropped and its number
 * reused, so create/delete cycles do not grow memory.
 */
export class Interned<T> {
  private readonly ids = new Map<string, number>()
  readonly values: Array<T | undefined> = []
  private readonly keys: Array<string | undefined> = []
  private readonly refs: number[] = []
  private readonly free: number[] = []
  /** The number of `key`, interning it if new; each call is one more use. */
  ref (key: string, value: T): number {
    let id = this.ids.get(key)
    if (id == null) {
      id = this.free.pop() ?? this.values.length
      this.ids.set(key, id)
      this.values[id] = value
      this.keys[id] = key
      this.refs[id] = 0
    }
    this.refs[id]!++
    return id
  }

  /** One more use of an interned `id`. */
  retain (id: number): void { this.refs[id]!++ }

  /** One use of `id` ended; the last one drops the value. */
  unref (id: number): void {
    if (id === NONE || --this.refs[id]! > 0) return
    this.ids.delete(this.keys[id] as string)
    this.values[id] = undefined
    this.keys[id] = undefined
    this.free.push(id)
  }

  find (key: string): number | undefined { return this.ids.get(key) }
  /** The key of `id` (undefined for NONE). */
  keyOf (id: number): string | undefined { return id === NONE ? undefined : this.keys[id] }
  get size (): number { return this.ids.size }

  dump (): TableDump {
    const refs = this.keys.map((k, id) => k == null ? 0 : this.refs[id] as number)
    return { keys: this.keys.map(k => k ?? null), refs }
  }

  /** Loads a dump into this (empty) table; `value` makes each value from its key. */
  restore (dump: TableDump, value: (key: string) => T): void {
    dump.keys.forEach((key, id) => {
      if (key == null) {
        this.free.push(id)
        this.values[id] = undefined
        this.keys[id] = undefined
        this.refs[id] = 0
        return
      }
      this.ids.set(key, id)
      this.values[id] = value(key)
      this.keys[id] = key
      this.refs[id] = dump.refs[id] as number
    })
  }
}
