/**
 * Walks a DAG breadth-first with many blocks in flight at once. Used to fetch
 * a DAG wide (the stock walker asks for one block at a time) and to list a
 * local DAG's blocks when unpinning. Raw blocks have no links, so they are
 * never decoded, and identity blocks are never stored.
 *
 * Re-wanting: Helia's bitswap can lose a want (a block that arrives while
 * the want is still being queued is dropped, and the sender will not resend
 * a block within a few seconds). So when no block has arrived for
 * `rewantAfterMs`, every request in flight is aborted and issued again; the
 * caller's stall timeout still bounds the whole fetch.
 *
 * Two nets for lost wants, both kept on purpose: node/block-catcher.ts closes
 * the one race known in @helia/bitswap (a block arriving between a want's send
 * and its listener), this re-want catches any other loss (a peer that dropped
 * the want, a stream closed under it) and is the only one when bitswap's event
 * source is unreachable. Measured (issue 15): with the catcher switched off,
 * bench:many (5,000 single-block pins, 3 runs) and test/pins/transfer.test.ts
 * plus fair.test.ts (2 runs) pinned everything and the re-want never fired;
 * with it on, never either. Neither net is exercised by what runs here today,
 * so neither can be shown redundant; both cost nothing until a want is lost.
 */
import { CID } from 'multiformats/cid'
import { raceSignal } from 'race-signal'
import * as raw from 'multiformats/codecs/raw'
import { blockSize, joinBlock, type BlockBytes } from '../node/block-bytes.js'
import { blockKey } from './gc-guard.js'
import { IDENTITY } from './cid.js'
import type { Semaphore } from './semaphore.js'
import type { BlockCodec } from 'multiformats/codecs/interface'

/** How the walker asks a source for one block. */
export interface BlockRequestOptions {
  signal?: AbortSignal
  /** Told when the bytes are here, before any write. */
  onArrived?: () => void
  /**
   * Given, a source that stores what it fetches hands over the write instead of waiting for it: the block's
   * bytes come back as soon as they are verified, and the walker waits for `write` before the block counts
   * as visited. For blocks with links: their children are wanted while the parent's file is written (the
   * root's write was ~8 ms of the ~40 ms between the root's arrival and the first leaf's at 0 ms RTT).
   */
  deferWrite?: (write: Promise<void>) => void
}

/** How the walker reaches blocks and codecs. */
export interface DagWalkComponents {
  /**
   * The block's bytes (one buffer or the pieces it arrived in); may fetch from the network. `onArrived` is
   * told when the bytes are here, before any write (a fetch's timeline, see shared-fetch.ts).
   */
  getBlock(cid: CID, options: BlockRequestOptions): Promise<BlockBytes>
  getCodec(code: number): Promise<BlockCodec<number, unknown>>
}

/** Options of one walk. */
export interface DagWalkOptions {
  signal?: AbortSignal
  concurrency: number
  /** Called before a block is requested (e.g. to protect it from GC). */
  beforeBlock?(cid: CID): Promise<void>
  /** Called once per distinct block with its size. */
  onBlock?(cid: CID, size: number): void
  /** When true, blocks with a raw codec are not read (their size is not counted). */
  skipRawLeaves?: boolean
  /** Re-issue requests in flight after this long without any block arriving (default: never). */
  rewantAfterMs?: number
  /** Shared cap on requests in flight across walks. */
  limiter?: Semaphore
}

/** The distinct blocks of a DAG and their total size. */
export interface DagWalkResult {
  blocks: CID[]
  bytes: number
}

// Lets bitswap flush the cancel of an aborted want before the same CID is wanted again.
const REWANT_PAUSE_MS = 50

class RewantSignal extends Error {
  static override name = 'RewantSignal'
  override name = RewantSignal.name
}

/**
 * The CIDs a block links to, in order (none for raw blocks, which are never decoded); throws if it does not
 * decode. One pass over the decoded value with a stack of its own, in the order of multiformats' `links()`,
 * which recurses through nested generators and copies the path at each level: O(depth × links), run
 * synchronously. A 2 MB dag-cbor block of 250,000 links 2,000 arrays deep froze the service for 25 s when
 * uploaded and 50 s per GET of its CAR; 2,500 deep (it decodes) overflowed the stack.
 */
export async function blockLinks (
  cid: CID, bytes: Uint8Array, getCodec: DagWalkComponents['getCodec']
): Promise<CID[]> {
  if (cid.code === raw.code) return []
  const links: CID[] = []
  const todo: unknown[] = [(await getCodec(cid.code)).decode(bytes)]
  while (todo.length > 0) {
    const value = todo.pop()
    if (value == null || typeof value !== 'object' || value instanceof Uint8Array) continue
    const link = CID.asCID(value)
    if (link != null) { links.push(link); continue }
    const children = Array.isArray(value) ? value as unknown[] : Object.values(value)
    for (let i = children.length - 1; i >= 0; i--) todo.push(children[i])
  }
  return links
}

/** Visits every distinct block reachable from `root`. */
export async function walkDag (
  root: CID,
  components: DagWalkComponents,
  options: DagWalkOptions
): Promise<DagWalkResult> {
  const seen = new Set<string>([blockKey(root)])
  const blocks: CID[] = []
  // A queue with a moving head: shift() on a large array is O(n).
  let pending: CID[] = [root]
  let head = 0
  let bytes = 0
  let failure: unknown
  let lastProgress = performance.now()
  let active = 0
  const inFlight = new Set<AbortController>()

  return await new Promise<DagWalkResult>((resolve, reject) => {
    const rewantAfterMs = options.rewantAfterMs
    const timer = rewantAfterMs == null
      ? undefined
      : setInterval(() => {
          if (performance.now() - lastProgress < rewantAfterMs) return
          lastProgress = performance.now()
          for (const controller of inFlight) controller.abort(new RewantSignal('re-want'))
        }, Math.max(10, rewantAfterMs / 4))

    const finish = (): void => {
      if (active > 0 || (failure == null && head < pending.length)) return
      clearInterval(timer)
      if (failure != null) reject(failure)
      else resolve({ blocks, bytes })
    }

    /** One request for a block; rejects with a RewantSignal when the timer aborted it. */
    const request = async (cid: CID, deferWrite?: (write: Promise<void>) => void): Promise<BlockBytes> => {
      // An abort that happened before this request (e.g. during a re-want pause) fires no event.
      options.signal?.throwIfAborted()
      const controller = new AbortController()
      const onAbort = (): void => { controller.abort(options.signal?.reason) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      inFlight.add(controller)
      try {
        // Raced with the abort: a source that ignores its signal (a bitswap send that never
        // returns) must not keep the walk, and so its pin, from ending.
        const options = deferWrite == null ? { signal: controller.signal } : { signal: controller.signal, deferWrite }
        return await raceSignal(components.getBlock(cid, options), controller.signal)
      } catch (err) {
        // Helia wraps aborts in its own errors: the controller says why this request ended.
        throw controller.signal.reason instanceof RewantSignal ? controller.signal.reason : err
      } finally {
        inFlight.delete(controller)
        options.signal?.removeEventListener('abort', onAbort)
      }
    }

    const fetchBlock = async (cid: CID, deferWrite?: (write: Promise<void>) => void): Promise<BlockBytes> => {
      if (cid.multihash.code === IDENTITY) return cid.multihash.digest
      for (;;) {
        await options.limiter?.acquire(options.signal)
        try {
          return await request(cid, deferWrite)
        } catch (err) {
          if (!(err instanceof RewantSignal)) throw err
        } finally {
          options.limiter?.release()
        }
        await new Promise(resolve => setTimeout(resolve, REWANT_PAUSE_MS))
        options.signal?.throwIfAborted()
      }
    }

    const visit = async (cid: CID): Promise<void> => {
      if (options.skipRawLeaves === true && cid.code === raw.code) { blocks.push(cid); return }
      await options.beforeBlock?.(cid)
      options.signal?.throwIfAborted()
      // A block with links has its file written while its children are wanted (BlockRequestOptions).
      const writes: Array<Promise<void>> = []
      try {
        const data = await fetchBlock(cid, cid.code === raw.code ? undefined : (write) => { writes.push(write) })
        const size = blockSize(data)
        blocks.push(cid)
        bytes += size
        lastProgress = performance.now()
        options.onBlock?.(cid, size)
        // Raw blocks have no links: their pieces are never joined.
        if (cid.code === raw.code) return
        for (const child of await blockLinks(cid, joinBlock(data), components.getCodec)) {
          const key = blockKey(child)
          if (seen.has(key)) continue
          seen.add(key)
          pending.push(child)
        }
        pump()
      } finally {
        // Active until written, also when the request failed after handing its write over: the walk ends
        // only once every block it fetched is stored (or its write failed, which fails the walk).
        await Promise.all(writes)
      }
    }

    const pump = (): void => {
      while (failure == null && active < options.concurrency && head < pending.length) {
        const cid = pending[head++] as CID
        if (head > 4096 && head * 2 > pending.length) { pending = pending.slice(head); head = 0 }
        active++
        visit(cid).then(() => { active--; pump() }, (err: unknown) => {
          active--
          // Aborted: say why (the source's own abort error depends on where the abort caught it).
          failure ??= options.signal?.aborted === true ? options.signal.reason : err
          finish()
        })
      }
      finish()
    }
    pump()
  })
}
