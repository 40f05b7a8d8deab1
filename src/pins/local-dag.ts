/**
 * Protects the part of a DAG that is stored here already. A request resumed
 * after a restart may need blocks nobody can send again (an uploaded CAR that
 * is being completed from `origins`), yet until a worker reaches it nothing
 * protects them: this keeps the garbage collector off them from the moment
 * the request is known.
 */
import toBuffer from 'it-to-buffer'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from './gc-guard.js'
import { IDENTITY } from './cid.js'
import { blockLinks } from './dag-walk.js'
import type { GcGuard } from './gc-guard.js'
import type { DagWalkComponents } from './dag-walk.js'
import type { Blockstore } from 'interface-blockstore'

/** A blockstore that can tell synchronously whether it holds a block. */
export interface SyncHas {
  /**
   * Whether the block is stored, without a trip through the thread pool or an
   * Error for a missing block: resuming 100k requests at start made 100k
   * async `has` calls, ~2 s of the start-up (~16 µs each, vs ~2 µs for a
   * synchronous check of a cached directory entry).
   */
  hasSync(cid: CID): boolean
}

/** Where the stored blocks are read. */
export interface LocalDagComponents {
  blockstore: Pick<Blockstore, 'get'> & SyncHas
  getCodec: DagWalkComponents['getCodec']
  guard: Pick<GcGuard, 'protect' | 'unprotect'>
}

/**
 * The CID of a record's `cidKey` (CIDv1 in base32, as canonicalCidKey makes
 * it). Decoded rather than `CID.parse`d: parse keeps a cache Map per CID,
 * ~1 s of resuming 500k requests and garbage for the collector after it.
 */
export function cidOfKey (key: string): CID {
  return key.startsWith(base32.prefix) ? CID.decode(base32.decode(key)) : CID.parse(key)
}

/**
 * Protects every stored block reachable from `roots` through stored blocks,
 * and resolves with their blockKey()s (to unprotect once the request is
 * settled): a resumed request may hold them for hours, and a CID decoded from
 * its parent block is ≥ 700 bytes of heap (and a view of that block's buffer).
 * Missing blocks are skipped: they are what the fetch will bring; so are the links of a block that does
 * not decode. Meant for
 * start-up (it checks each block synchronously), before anything is served.
 */
export async function protectStoredDag (roots: CID[], components: LocalDagComponents): Promise<string[]> {
  const { blockstore, guard } = components
  const seen = new Set<string>()
  const todo = [...roots]
  const held: string[] = []
  for (let cid = todo.pop(); cid != null; cid = todo.pop()) {
    const key = blockKey(cid)
    if (seen.has(key) || cid.multihash.code === IDENTITY) continue
    seen.add(key)
    // Protected before it is looked at, so a deletion in flight ends first.
    await guard.protect(cid)
    if (!blockstore.hasSync(cid)) { guard.unprotect(cid); continue }
    held.push(key)
    if (cid.code === raw.code) continue
    try {
      todo.push(...await blockLinks(cid, await toBuffer(blockstore.get(cid)), components.getCodec))
    } catch {
      // Stored but not decodable (torn by a crash, or damaged: `pinery verify --repair` queues such DAGs
      // again): its links are unknown, and the fetch hashes it before trusting it and fetches it again.
      // A throw here failed the worker's start, and so the service's.
    }
  }
  return held
}
