/**
 * A shard directory a process left renamed aside in its repair is back when the block store opens. A repair
 * after a failed directory fsync (shard-dirs.ts) renames the shard directory away and back; a process ending
 * between the two renames (killed, or its exit 70 after a failed record fsync on the same failing disk) leaves
 * it under its aside name. Before, no start looked for it: it and its blocks stayed on disk for good, out of
 * reach (blocks not yet reported pinned: a leak, not a loss). The crash is the state `rename(dir, aside)`
 * leaves, made here with that rename, over a block put and synced.
 */
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import toBuffer from 'it-to-buffer'
import type { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { rawBlock as block } from '../fixtures/content.js'

/** The block file of `cid` in a store at `dir` (blockstore-fs's default layout, as the store's). */
function fileOf (dir: string, cid: CID): string {
  const { dir: shard, file } = new NextToLast().encode(cid)
  return join(dir, shard, file)
}

type Block = Awaited<ReturnType<typeof block>>

/**
 * A store in `blocks` holding one block, put and synced (as a pin reported `pinned` has it), whose shard
 * directory is then renamed aside as a repair's first rename leaves it.
 */
async function asideAfterCrash (blocks: string, text: string): Promise<{ pinned: Block, shard: string }> {
  const store = new DurableFsBlockstore(blocks)
  await store.open()
  const pinned = await block(text)
  await store.put(pinned.cid, pinned.bytes)
  await store.sync()
  await store.close()
  const shard = dirname(fileOf(blocks, pinned.cid))
  await rename(shard, `${shard}.0123abcd0.redo`)
  return { pinned, shard }
}

/** Opens the store in `blocks` again and runs `check` on it. */
async function reopened (blocks: string, check: (store: DurableFsBlockstore) => Promise<void>): Promise<void> {
  const again = new DurableFsBlockstore(blocks)
  await again.open()
  try {
    await check(again)
    expect((await readdir(blocks)).filter(n => n.endsWith('.redo'))).toEqual([])
  } finally {
    await again.close()
  }
}

describe('a shard directory left aside by a crash in its repair', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pinery-aside-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('is renamed back at open, with the blocks in it', async () => {
    const blocks = join(dir, 'blocks')
    const { pinned } = await asideAfterCrash(blocks, 'a block reported pinned')
    await reopened(blocks, async (store) => {
      // Old code: false, and the get threw NotFoundError.
      expect(await store.has(pinned.cid)).toBe(true)
      expect(await toBuffer(store.get(pinned.cid))).toEqual(pinned.bytes)
    })
  })

  it('gives its files to a directory of its name made since', async () => {
    const blocks = join(dir, 'blocks')
    const { pinned, shard } = await asideAfterCrash(blocks, 'another block reported pinned')
    // A start of a build without the fix, and a put of another block to that shard: the name exists again.
    await mkdir(shard)
    await writeFile(join(shard, 'OTHER.data'), 'x')
    await reopened(blocks, async (store) => {
      expect(await toBuffer(store.get(pinned.cid))).toEqual(pinned.bytes)
      expect((await readdir(shard)).sort()).toEqual(['OTHER.data', fileOf(blocks, pinned.cid).split('/').pop()].sort())
    })
  })
})
