/**
 * The block store's shard directories and which of them need an fsync, for DurableFsBlockstore
 * (durable-blockstore.ts), including what a failed directory fsync costs. Linux reports a failed writeback to one
 * fsync only (errseq), a directory's as a file's: the fsync after it returns 0 over entries that never reached
 * the disk. A new shard directory's entry in its parent would then be lost with every block later put in it,
 * while the pins relying on them said `pinned` (test/power-cut-eio.test.ts). So when a parent's fsync fails,
 * each shard directory made since its last good one is made again under its name (renamed away and back, with
 * no put in it meanwhile: a new entry, which the next fsync of the parent must write), and the store distrusts
 * the block files whose entries were in a directory whose fsync failed, as it does a failed file sync's. Reads
 * and deletes that miss while a repair has a directory away (`moves`, `away`) look again where it is once its
 * renames end (`located`): the puts that ended after the failure are in it, and were not found meanwhile (nor
 * deleted: the file stayed for good) (test/node/shard-repair-reads.test.ts).
 */
import * as fs from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fsCall } from './fs-call.js'
import { Counts } from '../counts.js'

/** The directories one sync round fsyncs, and the shard directories whose entries those fsyncs cover. */
export interface DirRound {
  readonly dirs: string[]
  /** Shard directory → the mark it was made (or made again) with, for those whose parent is in `dirs`. */
  readonly fresh: ReadonlyMap<string, object>
}

/** Shard directories known to exist, the directories with changes not yet fsynced, and repairs. */
export interface ShardDirs {
  /**
   * Before a put in `dir`: waits for its repair, if any, then makes it if this process has not seen it yet, and
   * counts the put as in flight there until `leave(dir)` (a repair waits for none to be). Undefined when done at
   * once (a known directory, the usual case): no promise per put.
   */
  enter(dir: string): Promise<void> | undefined
  leave(dir: string): void
  /** `dir` is gone (a put found no directory): made again by the next put. */
  forget(dir: string): void
  /** A change in `dir` (a new entry or a removed one) waits for its next fsync. */
  touch(dir: string): void
  /** Bumped when a repair starts renaming a shard directory away and when it ends: a read that missed compares it. */
  readonly moves: number
  /** Whether a shard directory may be away from its name now: a repair's renames in flight, or one that failed. */
  readonly away: boolean
  /**
   * Where the files of `dir` are once no repair is renaming it: `dir`, or where a repair whose rename back failed
   * left it. Waits for the renames in flight (two renames, the window in which its blocks were not found).
   */
  located(dir: string): Promise<string>
  /**
   * Waits for every repair started so far; throws if one failed (its directory's entry is still in doubt).
   * Undefined when there is none (the usual case).
   */
  repaired(): Promise<void> | undefined
  /** The directories to fsync now (they are no longer waiting). */
  take(): DirRound
  /** The round's fsyncs all succeeded: the entries they covered are durable. */
  synced(round: DirRound): void
  /**
   * The round's fsyncs of `failed` failed: they wait for an fsync again, and the shard directories they covered
   * are made again once `removed()` (the distrusted files' removals) and the puts in them have ended. Returns
   * those shard directories: a block file in one is not durable until it is put again.
   */
  failed(round: DirRound, failed: ReadonlySet<string>, removed: () => Promise<void>): Set<string>
}

const NONE: ReadonlyMap<string, object> = new Map()

/** Creates the set for a store whose shard directories are made with `mode`, renamed aside with `nonce`. */
export function createShardDirs (nonce: string, mode = 0o700): ShardDirs {
  const known = new Set<string>()
  const dirty = new Set<string>()
  /** Shard directories this process made whose entry no fsync of their parent has made durable yet. */
  const fresh = new Map<string, object>()
  const inFlight = new Counts<string>()
  const idle = new Map<string, Array<() => void>>()
  const repairs = new Map<string, Promise<void>>()
  /** Shard directories whose repair failed: tried again by the next put in them or the next sync. */
  const doubtful = new Set<string>()
  /**
   * Where a repair left a directory whose rename back failed: the next try renames it back from there (its name
   * is free then; renaming the name away again failed with ENOENT on every try, and every sync after it).
   */
  const asideOf = new Map<string, string>()
  /** Shard directories a repair is renaming away and back, each with the end of its renames. */
  const moving = new Map<string, Promise<void>>()
  let moves = 0
  let count = 0

  const repair = (dir: string, removed: () => Promise<void>): Promise<void> => {
    let r = repairs.get(dir)
    if (r != null) return r
    r = (async () => {
      await removed()
      while (inFlight.count(dir) > 0) {
        await new Promise<void>(resolve => { idle.set(dir, [...idle.get(dir) ?? [], resolve]) })
      }
      let moved = (): void => {}
      moving.set(dir, new Promise<void>(resolve => { moved = resolve }))
      moves++
      try {
        let aside = asideOf.get(dir)
        if (aside == null) {
          const away = `${dir}.${nonce}${(count++).toString(36)}.redo`
          await fsCall(cb => { fs.rename(dir, away, cb) })
          asideOf.set(dir, aside = away)
        }
        const from = aside
        await fsCall(cb => { fs.rename(from, dir, cb) })
        asideOf.delete(dir)
      } finally {
        moving.delete(dir)
        moves++
        moved()
      }
      doubtful.delete(dir)
      fresh.set(dir, {})
      dirty.add(dirname(dir))
    })()
    repairs.set(dir, r)
    r.catch(() => { doubtful.add(dir) }).finally(() => { repairs.delete(dir) }).catch(() => {})
    return r
  }
  const noRemovals = async (): Promise<void> => {}
  const leave = (dir: string): void => {
    if (inFlight.add(dir, -1) > 0) return
    for (const resolve of idle.get(dir) ?? []) resolve()
    idle.delete(dir)
  }

  const enterLater = async (dir: string): Promise<void> => {
    for (let r = repairs.get(dir); r != null; r = repairs.get(dir)) await r.catch(() => {})
    if (doubtful.has(dir)) await repair(dir, noRemovals)
    inFlight.add(dir)
    if (known.has(dir)) return
    try {
      const made = await mkdir(dir, { recursive: true, mode })
      // The new directory's own entry lives in its parent.
      if (made != null) fresh.set(dir, {})
      known.add(dir)
      dirty.add(dirname(dir))
    } catch (err) {
      leave(dir)
      throw err
    }
  }

  return {
    enter (dir) {
      if (!known.has(dir) || repairs.size > 0 || doubtful.size > 0) return enterLater(dir)
      inFlight.add(dir)
      return undefined
    },
    leave,
    get moves () { return moves },
    get away () { return moving.size > 0 || asideOf.size > 0 },
    async located (dir) {
      for (let m = moving.get(dir); m != null; m = moving.get(dir)) await m
      return asideOf.get(dir) ?? dir
    },
    forget (dir) { known.delete(dir) },
    touch (dir) { dirty.add(dir) },
    repaired () {
      if (repairs.size === 0 && doubtful.size === 0) return undefined
      for (const dir of doubtful) void repair(dir, noRemovals).catch(() => {})
      return Promise.all([...repairs.values()]).then(() => {})
    },
    take () {
      const dirs = [...dirty]
      dirty.clear()
      if (fresh.size === 0) return { dirs, fresh: NONE }
      const covered = new Set(dirs)
      return { dirs, fresh: new Map([...fresh].filter(([dir]) => covered.has(dirname(dir)))) }
    },
    synced (round) {
      for (const [dir, mark] of round.fresh) if (fresh.get(dir) === mark) fresh.delete(dir)
    },
    failed (round, failed, removed) {
      for (const dir of round.dirs) dirty.add(dir)
      const lost = new Set<string>()
      for (const [dir, mark] of round.fresh) {
        if (fresh.get(dir) !== mark) continue
        if (failed.has(dirname(dir))) lost.add(dir)
        else fresh.delete(dir)
      }
      for (const dir of lost) void repair(dir, removed).catch(() => {})
      return lost
    }
  }
}
