/**
 * Checks what `pinned` promises: every block of every pinned DAG is on disk and hashes to its CID. A block
 * file can go missing or change under Pinery (a disk fault, a restore from an incomplete backup, someone
 * cleaning up `blocks/`, or a data dir from before unpins were fsynced, when a power cut could bring a pin
 * back over collected blocks), and nothing else reads an old pin's blocks until someone fetches them.
 * Like `ipfs repo verify`, it reads every block once; the blocks of each DAG are the ref keys DagPins
 * wrote when the DAG was pinned, so a missing block's own children are still checked.
 */
import toBuffer from 'it-to-buffer'
import { blockMatches, IDENTITY } from './cid.js'
import { refBlockCid as blockCid, refKeys } from './dag-pins.js'
import type { PinLifecycle } from './lifecycle.js'
import type { PinState } from './types.js'
import type { Blockstore } from 'interface-blockstore'
import type { Level } from 'level'

/** One pinned DAG with missing or damaged blocks, and the requests that report it `pinned`. */
export interface DamagedDag {
  /** The root, CIDv1 text (as request records and DagPins key it). */
  root: string
  blocks: number
  missing: number
  /** Present, but not hashing to their CID (or unreadable). */
  damaged: number
  requests: Array<{ requestid: string, owner: string, status: PinState, name?: string }>
}

/** What was checked, and what is wrong. */
export interface VerifyReport {
  dags: number
  /** Distinct blocks checked (a block shared by several DAGs counts once). */
  blocks: number
  /** Bytes of the blocks read. */
  bytes: number
  damaged: DamagedDag[]
}

/** Progress, every 1,000 blocks. */
export interface VerifyProgress { blocks: number, bytes: number }

/** Where pins and blocks are read. */
export interface VerifyComponents {
  /** DagPins' LevelDB: its ref keys list each pinned DAG's blocks. */
  db: Pick<Level<string, Uint8Array>, 'keys'>
  blockstore: Pick<Blockstore, 'get'>
  /** The requests whose CID is `root` (any status). */
  requestsOf(root: string): Promise<DamagedDag['requests']>
}

/** Blocks read at once: file reads go through the thread pool, and one at a time leaves it idle. */
const READS_AT_ONCE = 16

type Outcome = 'ok' | 'missing' | 'damaged'

/** Reads every pinned block once; resolves with the DAGs that are not whole. */
export async function verifyPinnedBlocks (
  components: VerifyComponents, options: { signal?: AbortSignal, onProgress?(p: VerifyProgress): void } = {}
): Promise<VerifyReport> {
  const perRoot = new Map<string, { blocks: number, missing: number, damaged: number }>()
  let blocks = 0
  let bytes = 0

  async function check (multihash: string): Promise<Outcome> {
    const cid = blockCid(multihash)
    // An identity CID carries its block in itself: recorded with the DAG's blocks, never stored.
    if (cid.multihash.code === IDENTITY) return 'ok'
    let stored: Uint8Array
    try {
      stored = await toBuffer(components.blockstore.get(cid, options))
    } catch (err) {
      options.signal?.throwIfAborted()
      return (err as Error).name === 'NotFoundError' ? 'missing' : 'damaged'
    }
    bytes += stored.byteLength
    return blockMatches(cid, stored) ? 'ok' : 'damaged'
  }

  /** One distinct block and the roots keeping it (ref keys are sorted by block, so they come together). */
  let batch: Array<{ multihash: string, roots: string[] }> = []
  async function flush (): Promise<void> {
    options.signal?.throwIfAborted()
    const outcomes = await Promise.all(batch.map(async b => await check(b.multihash)))
    batch.forEach(({ roots }, i) => {
      for (const root of roots) {
        const counts = perRoot.get(root) ?? { blocks: 0, missing: 0, damaged: 0 }
        counts.blocks++
        if (outcomes[i] === 'missing') counts.missing++
        if (outcomes[i] === 'damaged') counts.damaged++
        perRoot.set(root, counts)
      }
    })
    const before = blocks
    blocks += batch.length
    if (Math.floor(blocks / 1000) > Math.floor(before / 1000)) options.onProgress?.({ blocks, bytes })
    batch = []
  }

  for await (const { multihash, root } of refKeys(components.db)) {
    const last = batch.at(-1)
    if (last?.multihash === multihash) { last.roots.push(root); continue }
    if (batch.length >= READS_AT_ONCE) await flush()
    batch.push({ multihash, roots: [root] })
  }
  await flush()

  const damaged: DamagedDag[] = []
  for (const [root, c] of perRoot) {
    if (c.missing + c.damaged > 0) damaged.push({ root, ...c, requests: await components.requestsOf(root) })
  }
  return { dags: perRoot.size, blocks, bytes, damaged }
}

/** What sending damaged DAGs back to the queue changes: the data dir's records, through their lifecycle (offline). */
export interface RequeueComponents {
  /** Writes each change with its event (pin.queued) in one batch, as the service does. */
  lifecycle: Pick<PinLifecycle, 'refetch'>
}

/**
 * Sends every `pinned` request of each damaged DAG back to `queued`, so the service fetches the DAG again
 * from the requests' origins at its next start: blocks on disk are hashed and kept, missing or damaged ones
 * fetched. The DAG stays pinned meanwhile: unpinned, the blocks below a missing node were reachable by
 * nothing, and the first sweep after the start collected them (whole blocks, maybe nowhere else) before the
 * fetch got to them. A request that fails then releases the DAG by its stored block list (request-pins.ts),
 * as a deletion does. Each change is written with its pin.queued event (a client following the events,
 * or a webhook, learns that its pinned request is being fetched again). Resolves with the number of requests
 * sent back; a second run after a crash finds the rest still `pinned`.
 */
export async function requeueDamaged (damaged: DamagedDag[], components: RequeueComponents): Promise<number> {
  let requeued = 0
  for (const d of damaged) {
    for (const { requestid } of d.requests) {
      if (await components.lifecycle.refetch(requestid) != null) requeued++
    }
  }
  return requeued
}
