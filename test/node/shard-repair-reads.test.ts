/**
 * Reads while a repair has a shard directory renamed aside. When the fsync of blocks/ fails, each shard directory
 * made since its last good one is renamed away and back (src/node/shard-dirs.ts): while it is away, its blocks
 * were not found, so a fetch fetched them again and a gateway read failed. Here the store runs in a process of
 * its own with a failing disk preloaded (power-cut.c: the fsync of blocks/ fails) and a slow one (slow-sync.c:
 * the put of one block and the repair's renames wait), which opens the window wide.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import { afterEach, describe, expect, it } from 'vitest'
import { startBlockstoreProcess, type BlockstoreProcess, type CallError } from '../fixtures/blockstore-process.js'
import { rawBlock } from '../fixtures/content.js'
import { preparePowerCut, type PowerCut } from '../fixtures/power-cut.js'
import { waitFor } from '../fixtures/service.js'
import { slowRenameEnv } from '../fixtures/slow-sync.js'

/** Where blockstore-fs's default layout puts the raw block of `text`. */
async function shardOf (text: string): Promise<{ dir: string, file: string }> {
  return new NextToLast().encode((await rawBlock(text)).cid)
}

/** Two texts whose blocks share a shard directory. */
async function twoInOneShard (): Promise<[string, string, { dir: string, file: string }]> {
  const seen = new Map<string, string>()
  for (let i = 0; ; i++) {
    const text = `block ${i}`
    const { dir } = await shardOf(text)
    const other = seen.get(dir)
    if (other != null) return [other, text, await shardOf(text)]
    seen.set(dir, text)
  }
}

describe('a shard directory renamed aside by a repair', () => {
  let dir: string
  let power: PowerCut | undefined
  let store: BlockstoreProcess | undefined
  afterEach(async () => {
    await store?.stop()
    await power?.dispose()
    await rm(dir, { recursive: true, force: true })
  })

  /**
   * Starts the store with both preloads, puts `first` (a new shard directory) and `late` (its put held across a
   * failed fsync of blocks/), and resolves once the repair holds their directory aside (its rename back held 3 s).
   */
  async function repairUnderWay (): Promise<{ first: string, late: string, shard: { dir: string, file: string } }> {
    dir = await mkdtemp(join(tmpdir(), 'pinery-repair-reads-'))
    power = await preparePowerCut(dir)
    const slow = await slowRenameEnv(join(dir, 'slow-renames'))
    store = await startBlockstoreProcess(join(dir, 'blocks'), {
      ...power.env, ...slow, LD_PRELOAD: `${power.env.LD_PRELOAD as string} ${slow.LD_PRELOAD as string}`
    })
    const [first, late, shard] = await twoInOneShard()
    // `first` makes its shard directory: new, so the next sync's fsync of blocks/ is what makes its entry durable.
    await store.call('put', first)
    // `late`'s put enters that directory before the sync and ends after it failed (its rename held 1.5 s); the
    // repair waits for it, then holds the directory aside for 3 s (each rename held 3 s).
    await writeFile(join(dir, 'slow-renames'), `1500\t${shard.file}\n3000\t.redo\n`)
    await power.failSyncOnce('blocks', { directory: true })
    const put = store.call('put', late)
    await expect(store.call('sync')).rejects.toMatchObject({ code: 'EIO' })
    expect(await put).toBe(true)
    const redo = async (): Promise<true | undefined> =>
      (await readdir(join(dir, 'blocks'))).some(name => name.endsWith('.redo')) ? true : undefined
    await waitFor(redo, 10_000, 'the shard directory renamed aside')
    return { first, late, shard }
  }

  it('still finds its blocks (has, get), while the ones the failed sync covered stay dropped', async () => {
    const { first, late } = await repairUnderWay()
    const live = store as BlockstoreProcess
    // The rename back is held 3 s: these reads start while the directory is aside.
    const reads = await Promise.all([live.call('has', late), live.call('get', late), live.call('has', first)]
      .map(async read => await read.catch((err: CallError) => err.name)))
    await rm(join(dir, 'slow-renames'))
    await live.call('sync')
    // Before: [false, NotFoundError, false]: `late` was not found, a fetch would have fetched it again.
    expect({ reads, after: await live.call('get', late) }).toEqual({ reads: [true, late, false], after: late })
  })

  it('deletes a block of it (the collector\'s delete) once it is back', async () => {
    const { late, shard } = await repairUnderWay()
    const live = store as BlockstoreProcess
    // The collector's delete while the directory is aside: before, it found no file and returned, and the block
    // stayed on disk for good (no sweep lists a block it already deleted... until the next one finds it again).
    const deleted = await live.call('delete', late)
    await rm(join(dir, 'slow-renames'))
    await live.call('sync')
    const left = (await readdir(join(dir, 'blocks', shard.dir))).filter(name => name.startsWith(shard.file))
    // Before: { has: true, left: [the block's file] }.
    expect({ deleted, has: await live.call('has', late), left }).toEqual({ deleted: true, has: false, left: [] })
  })
})
