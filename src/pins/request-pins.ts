/**
 * DAG pins, reference-counted by pin requests. A CID stays pinned while at
 * least one live request references it (its own CID, or one it holds during
 * a replace); per-CID locking keeps "pin" and "unpin when unreferenced" from
 * interleaving.
 */
import { CID } from 'multiformats/cid'
import { createKeyedMutex } from './keyed-mutex.js'
import { walkDag, type DagWalkComponents } from './dag-walk.js'
import type { DagPins } from './dag-pins.js'
import type { RecordStore } from './record-store.js'
import type { Logger } from '../logger.js'

/** Pins and releases content on behalf of requests. */
export interface RequestPins {
  /** Makes sure `cidKey`, whose distinct blocks are `blocks` (all local, `dagSize` bytes), is pinned. */
  pin(cidKey: string, blocks: CID[], dagSize: number): Promise<void>
  /**
   * The DAG size of `cidKey` when it is pinned already, so a new request needs no fetch. Asked once the
   * request's record is written: it waits for a release of `cidKey` in progress, so the pin it reports stays.
   */
  pinnedSize(cidKey: string): Promise<number | undefined>
  /** Releases every pin no request references (left by a crash between the two writes); returns how many. */
  reconcile(): Promise<number>
  /** Unpins each CID that no live request references any more. */
  release(cidKeys: Iterable<string>): Promise<void>
}

/** What content pinning needs. */
export interface RequestPinsComponents {
  dagPins: DagPins
  records: Pick<RecordStore, 'isReferenced'>
  /** Reads local blocks, to list a DAG's blocks when unpinning it. */
  local: DagWalkComponents
  logger: Logger
  /** Told when blocks may have become garbage. */
  onUnpinned(): void
}

/** The canonical key of a CID: CIDv1 in base32, so Qm… and bafy… of one DAG agree. */
export function canonicalCidKey (cid: CID): string {
  return cid.toV1().toString()
}

/** Creates the reference-counted pinning layer. */
export function createRequestPins (components: RequestPinsComponents): RequestPins {
  const { dagPins, records } = components
  const log = components.logger.child({ component: 'content' })
  const lock = createKeyedMutex()

  return {
    async pin (cidKey, blocks, dagSize) {
      await lock.run(cidKey, async () => {
        const cid = CID.parse(cidKey)
        if (await dagPins.hasPin(cid)) return
        await dagPins.add(cid, blocks, dagSize)
      })
    },

    async pinnedSize (cidKey) {
      // Under the CID's lock: a release that found no reference before the caller's record was
      // written may be unpinning it right now, and answering with its size would settle a request
      // `pinned` on a DAG that is gone a moment later (and then collected).
      return await lock.run(cidKey, async () => await dagPins.dagSize(CID.parse(cidKey)))
    },

    async reconcile () {
      const orphans: string[] = []
      for await (const root of dagPins.ls()) {
        const cidKey = canonicalCidKey(root)
        if (!await records.isReferenced(cidKey)) orphans.push(cidKey)
      }
      await this.release(orphans)
      if (orphans.length > 0) log.info({ released: orphans.length }, 'released pins no request references')
      return orphans.length
    },

    async release (cidKeys) {
      for (const cidKey of new Set(cidKeys)) {
        await lock.run(cidKey, async () => {
          if (await records.isReferenced(cidKey)) return
          const cid = CID.parse(cidKey)
          if (!await dagPins.hasPin(cid)) return
          try {
            const blocks = await walkDag(cid, components.local, { concurrency: 32, skipRawLeaves: true })
              .then(walked => walked.blocks, async (err: unknown) => {
                // Not whole on disk (`pinery verify` names such DAGs): the walk stops at the missing block, and
                // the pin stayed for good, answering new requests `pinned`. Its ref keys name its blocks.
                log.warn({ cid: cidKey, err }, 'a pinned DAG is not whole on disk; unpinned by its stored block list')
                return await dagPins.blocksOf(cid)
              })
            await dagPins.rm(cid, blocks)
            log.debug({ cid: cidKey }, 'unpinned')
            components.onUnpinned()
          } catch (err) {
            log.error({ cid: cidKey, err }, 'cannot unpin a DAG; it stays pinned')
          }
        })
      }
    }
  }
}
