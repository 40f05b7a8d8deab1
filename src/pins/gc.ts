/**
 * Background garbage collection: deletes blocks that no pin references and
 * no fetch is working with. It only runs when something may have become
 * garbage (an unpin, a failed fetch, a fresh start), at most once per
 * interval, so an idle service does not rescan its blockstore.
 */
import type { GcGuard } from './gc-guard.js'
import type { Logger } from '../logger.js'
import type { GcMetrics } from '../metrics.js'
import type { DagPins } from './dag-pins.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** The collector. */
export interface GarbageCollector {
  /** Schedules a collection at the next interval. */
  markDirty(): void
  /** Collects now; resolves with the number of blocks deleted. */
  collect(options?: { signal?: AbortSignal }): Promise<number>
  /**
   * Deletes just these blocks (what a failed or finished upload stored),
   * each unless a pin references it or a fetch protects it; resolves with
   * the number deleted. Saves a sweep of the whole blockstore.
   */
  discard(cids: Iterable<CID>): Promise<number>
  /**
   * Keeps every block until the returned release is called (a backup copying the block files of a datastore
   * snapshot must find each one); resolves once no deletion is in flight. What became garbage meanwhile is
   * collected at the next interval after the release.
   */
  hold(): Promise<() => void>
  start(): void
  stop(): Promise<void>
}

/** Settings of the collector. */
export interface GarbageCollectorInit {
  intervalMs: number
}

/** What the collector reads and deletes. */
export interface GarbageCollectorComponents {
  /** Lists and reads stored blocks. */
  blockstore: Pick<Blockstore, 'getAll' | 'get'>
  /** Deletes a block from the store, unconditionally. */
  deleteBlock: Blockstore['delete']
  pins: Pick<DagPins, 'isPinned'>
  guard: GcGuard
  logger: Logger
  metrics?: GcMetrics
}

function isGone (err: unknown): boolean {
  const e = err as { code?: string, name?: string }
  return e?.code === 'ENOENT' || e?.name === 'NotFoundError'
}

/** Creates a stopped collector (dirty, so the first interval sweeps leftovers). */
export function createGarbageCollector (
  init: GarbageCollectorInit, components: GarbageCollectorComponents
): GarbageCollector {
  const { guard, pins } = components
  const log = components.logger.child({ component: 'gc' })
  let dirty = true
  let timer: NodeJS.Timeout | undefined
  let current: Promise<{ deleted: number, bytes: number }> | undefined
  let holds = 0
  const deleting = new Set<Promise<unknown>>()
  const controller = new AbortController()

  /** Deletes one block unless pinned or protected; resolves with the bytes freed, or -1 when kept. */
  async function deleteIfGarbage (
    cid: CID, content: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  ): Promise<number> {
    if (holds > 0 || guard.isProtected(cid) || await pins.isPinned(cid)) return -1
    // Checked again once the deletion is registered: a fetch protecting the block from now on waits for it.
    let size = 0
    const gone = await guard.deleteUnlessProtected(cid, async () => {
      if (holds > 0 || await pins.isPinned(cid)) return false
      // Read only for garbage, to report what was freed.
      try {
        for await (const chunk of content()) size += chunk.byteLength
      } catch (err) {
        // Deleted since the sweep listed it (an upload discarding its blocks): already gone.
        if (isGone(err)) return false
        throw err
      }
      // A hold taken while the content was read wins; checked and registered in one turn, so hold() sees it.
      if (holds > 0) return false
      const deletion = Promise.resolve(components.deleteBlock(cid))
      deleting.add(deletion)
      try {
        await deletion
      } finally {
        deleting.delete(deletion)
      }
      return true
    })
    return gone ? size : -1
  }

  async function sweep (signal?: AbortSignal): Promise<{ deleted: number, bytes: number }> {
    let deleted = 0
    let bytes = 0
    for await (const { cid, bytes: content } of components.blockstore.getAll({ signal })) {
      const freed = await deleteIfGarbage(cid, () => content)
      if (freed >= 0) { deleted++; bytes += freed }
    }
    return { deleted, bytes }
  }

  const gc: GarbageCollector = {
    markDirty () { dirty = true },

    async collect (options = {}) {
      while (current != null) await current.catch(() => {})
      dirty = false
      current = sweep(options.signal)
      try {
        const { deleted, bytes } = await current
        components.metrics?.gcRan(deleted, bytes)
        if (deleted > 0) log.info({ deleted, bytes }, 'garbage collected')
        return deleted
      } finally {
        current = undefined
      }
    },

    async discard (cids) {
      let deleted = 0
      let bytes = 0
      for (const cid of cids) {
        try {
          const freed = await deleteIfGarbage(cid, () => components.blockstore.get(cid))
          if (freed >= 0) { deleted++; bytes += freed }
        } catch (err) {
          // Gone already (a sweep got there first) or unreadable: the next sweep decides.
          if ((err as Error).name !== 'NotFoundError') log.warn({ err, cid: cid.toString() }, 'cannot discard a block')
        }
      }
      if (deleted > 0) {
        components.metrics?.gcRan(deleted, bytes)
        log.debug({ deleted, bytes }, 'discarded unpinned blocks')
      }
      return deleted
    },

    async hold () {
      holds++
      await Promise.allSettled([...deleting])
      let released = false
      return () => {
        if (released) return
        released = true
        holds--
        dirty = true
      }
    },

    start () {
      const tick = (): void => {
        const run = dirty ? gc.collect({ signal: controller.signal }) : Promise.resolve(0)
        run.catch(err => {
          if (!controller.signal.aborted) log.error({ err }, 'garbage collection failed')
        }).finally(() => {
          if (!controller.signal.aborted) timer = setTimeout(tick, init.intervalMs)
        })
      }
      timer = setTimeout(tick, init.intervalMs)
    },

    async stop () {
      controller.abort()
      clearTimeout(timer)
      await current?.catch(() => {})
    }
  }
  return gc
}
