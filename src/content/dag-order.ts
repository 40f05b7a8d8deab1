/**
 * A DAG's blocks depth-first (links in order, each block once or as often as
 * it is linked: the order of a CAR with `order=dfs`, or of a file's bytes),
 * read ahead with bounded concurrency and memory. pins/dag-walk.ts is wide
 * but breadth-first and unordered, and the one-block-at-a-time walk this
 * replaced spent ~5 CPU-s/GiB serving CARs (issue 14), so neither fits.
 * Raw blocks have no links, so their place in the order is known without
 * reading them: they are read ahead and never decoded. A node with links
 * must be read and decoded before anything after it can be placed; while it
 * is, the top of the stack (its likely successors: siblings that turn out to
 * be leaves, as dag-pb leaves of a CIDv0 file do) is read ahead too.
 *
 * Blocks are lent: read into reused slots, the bytes of a yielded block are
 * valid only until the next one is asked for. Decoded links are copied out
 * of their slot before it is reused.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../pins/gc-guard.js'
import { IDENTITY } from '../pins/cid.js'
import type { BufferPool } from './batched-writer.js'

/** Steps between turns given back to the event loop. */
const YIELD_EVERY = 256

/** A block to walk, with what the caller keeps with it (a file offset, say). */
export interface DagNode<T> {
  cid: CID
  tag: T
}

/** How the walk reads and decodes blocks. */
export interface DagOrderComponents<T> {
  /** The block's bytes: in `slot` when it fits (a view of it), else in a buffer of their own. */
  read(cid: CID, slot: Uint8Array, options: { signal: AbortSignal }): Promise<Uint8Array>
  /**
   * What to walk under a block that is not raw, in order (its links, or some of them); throws
   * when it does not decode. The bytes are lent too: CIDs are copied out of them here.
   */
  children(node: DagNode<T>, bytes: Uint8Array): Promise<Array<DagNode<T>>>
  slots: BufferPool
}

/** Options of one walk. */
export interface DagOrderOptions {
  signal?: AbortSignal
  /** Blocks read but not yet yielded, at most (in flight or waiting). */
  ahead: number
  /** Blocks already given (by block key): skipped, and the walk's blocks are added. Without it, a block is
   * given as often as it is linked to (a file that repeats a chunk). */
  seen?: Set<string>
  /** Give identity blocks too (a file's inlined bytes); a CAR leaves them out, as they carry themselves. */
  identities?: boolean
}

interface Read {
  slot?: Uint8Array
  bytes?: Uint8Array
  failure?: { err: unknown }
  settled: Promise<void>
}

interface Step<T> extends DagNode<T> {
  read: Read
  /** False for identity blocks in a CAR: walked for their links, not given. */
  give: boolean
}

/**
 * Yields the blocks of the DAG under `root` depth-first; a block that cannot
 * be read, or does not decode, throws where it would have been yielded.
 */
export async function * dagInOrder<T> (
  root: DagNode<T>,
  components: DagOrderComponents<T>,
  options: DagOrderOptions
): AsyncGenerator<DagNode<T> & { bytes: Uint8Array }> {
  const { ahead } = options
  const seen = options.seen ?? { has: () => false, add: () => {} }
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  const stack: Array<DagNode<T>> = [root]
  const started = new Map<string, Read>() // read ahead, still on the stack
  const order: Array<Step<T>> = [] // placed in the order, not yet yielded
  let blocked: Step<T> | undefined // a node whose links must be known before anything else is placed
  let stopped = false // a node failed: nothing after it is placed

  const start = (cid: CID): Read => {
    if (cid.multihash.code === IDENTITY) return { bytes: cid.multihash.digest, settled: Promise.resolve() }
    const read: Read = { slot: components.slots.take(), settled: Promise.resolve() }
    read.settled = components.read(cid, read.slot as Uint8Array, { signal })
      .then(bytes => { read.bytes = bytes }, err => { read.failure = { err } })
    return read
  }
  const held = (): number => started.size + order.length

  /**
   * Places blocks from the stack until `ahead` are held or a node's links are needed, then reads
   * ahead the top of the stack with at most half of `ahead`, so placed blocks always have the rest.
   */
  const place = (): void => {
    while (!stopped && blocked == null && stack.length > 0) {
      const node = stack[stack.length - 1] as DagNode<T>
      const { cid } = node
      const key = blockKey(cid)
      // Always one block placed: reads ahead can never hold the whole budget.
      if (!seen.has(key) && !started.has(key) && held() >= ahead && order.length > 0) break
      stack.pop()
      if (seen.has(key)) continue
      seen.add(key)
      const read = started.get(key) ?? start(cid)
      started.delete(key)
      const step = { ...node, read, give: options.identities === true || cid.multihash.code !== IDENTITY }
      if (cid.code !== raw.code) blocked = step
      if (step.give || blocked === step) order.push(step)
    }
    for (let i = stack.length - 1; i >= 0 && started.size < ahead / 2 && held() < ahead; i--) {
      if (stack.length - i > ahead) break
      const { cid } = stack[i] as DagNode<T>
      const key = blockKey(cid)
      if (!seen.has(key) && !started.has(key)) started.set(key, start(cid))
    }
  }

  /** Puts the blocked node's children on the stack (CIDs copied: its bytes may sit in a slot). */
  const expand = async (step: Step<T>): Promise<void> => {
    await step.read.settled
    if (step.read.failure != null) { stopped = true; return }
    try {
      const children = await components.children(step, step.read.bytes as Uint8Array)
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i] as DagNode<T>
        stack.push({ cid: CID.decode(child.cid.bytes.slice()), tag: child.tag })
      }
    } catch (err) {
      step.read.failure = { err }
      stopped = true
    }
  }

  const release = (read: Read): void => {
    if (read.slot != null) components.slots.give(read.slot)
  }

  let steps = 0
  try {
    for (;;) {
      // Blocks carried in their CIDs, or read already, settle without the event loop: a long run of
      // them would keep every other request and timer waiting (and the client's leaving unseen).
      if (++steps % YIELD_EVERY === 0) await new Promise(resolve => setImmediate(resolve))
      place()
      if (blocked != null) {
        await expand(blocked)
        blocked = undefined
        continue
      }
      const step = order.shift()
      if (step == null) return
      await step.read.settled
      if (step.read.failure != null) throw step.read.failure.err
      if (!step.give) continue
      options.signal?.throwIfAborted()
      yield { cid: step.cid, tag: step.tag, bytes: step.read.bytes as Uint8Array }
      release(step.read)
    }
  } finally {
    // Reads still in flight may write into their slots: those are dropped, not reused.
    controller.abort()
  }
}
