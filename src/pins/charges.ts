/**
 * What one owner is charged for storage: each distinct CID of their pinned
 * requests once, at its dagSize, and, while a replacement is unsettled, the
 * CIDs it holds (still on disk for it). CIDs are the index's interned ids.
 */

/** Charges as plain data, for the index snapshot: `charged` as [cid, refs, size] triples. */
export interface ChargesDump {
  bytes: number
  charged: number[]
  holding: Array<[number, number[]]>
}

/** One owner's charges. */
export class Charges {
  /** CID id → pinned records naming it (or holding it) and the dagSize charged for it. */
  private readonly charged = new Map<number, { refs: number, size: number }>()
  /** `created` of an unsettled replacement → the charged CIDs it holds. */
  private readonly holding = new Map<number, number[]>()
  /** Bytes charged, once per CID. */
  bytes = 0

  /** Distinct CIDs charged. */
  get cids (): number {
    return this.charged.size
  }

  /** The charge of one CID, if any. */
  of (cid: number): { refs: number, size: number } | undefined {
    const entry = this.charged.get(cid)
    return entry == null ? undefined : { ...entry }
  }

  /** A pinned record names `cid`, whose DAG is `size` bytes. */
  charge (cid: number, size: number): void {
    const entry = this.charged.get(cid)
    if (entry != null) { entry.refs++; return }
    this.charged.set(cid, { refs: 1, size })
    this.bytes += size
  }

  /** A pinned record naming `cid` went away. */
  uncharge (cid: number): void {
    const entry = this.charged.get(cid)
    if (entry == null) return
    if (--entry.refs > 0) return
    this.charged.delete(cid)
    this.bytes -= entry.size
  }

  /**
   * Keeps the charges of CIDs a replacement (created at `created`) holds until it settles; returns
   * those held. A CID charged already is held at its charge; one not charged (yet: an index rebuilt
   * from the records may meet the replacement alone, its old pinned record gone) is held at the
   * size the replacement recorded for it, if any (`sizes`, by position).
   */
  hold (created: number, cids: number[], sizes: Array<number | undefined> = []): number[] {
    const held: number[] = []
    cids.forEach((id, i) => {
      if (!this.charged.has(id) && sizes[i] == null) return
      this.charge(id, sizes[i] ?? 0)
      held.push(id)
    })
    if (held.length > 0) this.holding.set(created, held)
    return held
  }

  /** Drops what `created` held (it settled or went away); returns the CIDs it held. */
  release (created: number): number[] {
    const held = this.holding.get(created) ?? []
    for (const id of held) this.uncharge(id)
    this.holding.delete(created)
    return held
  }

  /** The charges as plain data. */
  dump (): ChargesDump {
    const charged: number[] = []
    for (const [cid, { refs, size }] of this.charged) charged.push(cid, refs, size)
    return { bytes: this.bytes, charged, holding: [...this.holding] }
  }

  /** Charges read back from `dump()`. */
  static restore (dump: ChargesDump): Charges {
    const charges = new Charges()
    for (let i = 0; i + 2 < dump.charged.length; i += 3) {
      const [cid, refs, size] = dump.charged.slice(i, i + 3) as [number, number, number]
      charges.charged.set(cid, { refs, size })
    }
    for (const [created, held] of dump.holding) charges.holding.set(created, held)
    charges.bytes = dump.bytes
    return charges
  }
}
