/**
 * Group commit: batches that callers hand in while writes are in progress are
 * written together next, as one LevelDB batch and (when any of them asks for
 * it) one fsync, instead of one write and one fsync each. A few writes may be
 * in progress at once, so a group waits in LevelDB's own writer queue rather
 * than for the previous write's answer to reach the event loop. Each caller is
 * resolved only once the write holding its operations has landed, with at
 * least the durability it asked for; a batch is never split, so each stays
 * atomic. When a combined write fails, its batches are retried one by one, so
 * a batch only ever fails for its own operations.
 *
 * Why: bench:many (10,000 single-block pins, 20 POSTs in flight) made two
 * fsynced record batches per pin, one LevelDB write each; every write is a
 * round trip through libuv's four-thread pool, which the block files' opens,
 * writes, renames and fsyncs share. A microbenchmark of 4,000 eight-put
 * batches, 20 in flight, on this machine under load (load average ~17):
 * written alone ~80–90 µs of CPU and ~260–370 µs of wall time per batch;
 * grouped with one write at a time ~45–50 µs of CPU but 270–435 µs of wall
 * time (each group waits for the previous one's round trip); grouped with up
 * to four writes at once ~46 µs and ~100 µs.
 */

/** Writes concurrent batches together. */
export interface GroupCommit<Op> {
  /** Resolves once `ops` are written (fsynced first when `sync`), atomically, maybe with others' batches. */
  write(ops: Op[], sync: boolean): Promise<void>
  /** Resolves once nothing is waiting or being written. */
  idle(): Promise<void>
}

/** Settings of the grouping. */
export interface GroupCommitInit {
  /** A group takes further batches only while it holds fewer operations than this. */
  maxOps: number
  /** Writes in progress at once: another group starts while fewer are. */
  maxWrites: number
}

/** What the grouping writes with: one atomic batch, fsynced first when `sync`. */
export interface GroupCommitComponents<Op> {
  writeBatch(ops: Op[], sync: boolean): Promise<void>
}

interface Waiting<Op> {
  ops: Op[]
  sync: boolean
  resolve(): void
  reject(err: unknown): void
}

/** Creates the grouping over one writer. */
export function createGroupCommit<Op> (
  init: GroupCommitInit, components: GroupCommitComponents<Op>
): GroupCommit<Op> {
  let waiting: Array<Waiting<Op>> = []
  /** Writers running: each takes the next group until none is waiting. */
  let writers = 0
  let idleWaiters: Array<() => void> = []

  /** The next group: batches in arrival order, at least one, up to maxOps operations. */
  function take (): Array<Waiting<Op>> {
    let ops = 0
    let n = 0
    while (n < waiting.length && (n === 0 || ops + (waiting[n] as Waiting<Op>).ops.length <= init.maxOps)) {
      ops += (waiting[n] as Waiting<Op>).ops.length
      n++
    }
    const group = waiting.slice(0, n)
    waiting = waiting.slice(n)
    return group
  }

  async function writeGroup (group: Array<Waiting<Op>>): Promise<void> {
    try {
      const ops = group.length === 1 ? (group[0] as Waiting<Op>).ops : group.flatMap(w => w.ops)
      await components.writeBatch(ops, group.some(w => w.sync))
      for (const w of group) w.resolve()
    } catch (err) {
      if (group.length === 1) { (group[0] as Waiting<Op>).reject(err); return }
      // One batch's operations must not fail another's: each on its own.
      for (const w of group) await writeGroup([w])
    }
  }

  async function drain (): Promise<void> {
    while (waiting.length > 0) await writeGroup(take())
    // In the same step as the check above: a batch handed in from now on starts a writer.
    if (--writers > 0) return
    for (const resolve of idleWaiters) resolve()
    idleWaiters = []
  }

  return {
    async write (ops, sync) {
      await new Promise<void>((resolve, reject) => {
        waiting.push({ ops, sync, resolve, reject })
        if (writers >= init.maxWrites) return
        writers++
        void drain()
      })
    },
    async idle () {
      if (writers > 0) await new Promise<void>(resolve => { idleWaiters.push(resolve) })
    }
  }
}
