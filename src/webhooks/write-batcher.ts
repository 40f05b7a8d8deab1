/**
 * Delivery bookkeeping (an attempt recorded, an entry deleted or
 * rescheduled) is many small unsynced writes; they are gathered into one
 * LevelDB batch per turn of the event loop.
 */
import type { ExtraOp } from '../pins/record-store.js'
import type { Level } from 'level'

/** Writes operations in shared batches. */
export interface WriteBatcher {
  /** Resolves once `ops` are written (unsynced), with whatever else came in the same turn. */
  write(ops: ExtraOp[]): Promise<void>
}

/** Creates a batcher on the LevelDB. */
export function createWriteBatcher (db: Level<string, Uint8Array>): WriteBatcher {
  let pending: { ops: ExtraOp[], done: Promise<void> } | undefined
  return {
    async write (ops) {
      if (pending == null) {
        const batch: { ops: ExtraOp[], done: Promise<void> } = { ops: [], done: Promise.resolve() }
        batch.done = new Promise<void>(resolve => { setImmediate(resolve) }).then(async () => {
          pending = undefined
          await db.batch(batch.ops, { sync: false })
        })
        pending = batch
      }
      pending.ops.push(...ops)
      await pending.done
    }
  }
}
