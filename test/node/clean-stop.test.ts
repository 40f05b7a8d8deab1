/**
 * The start's sync where syncfs is not to be had (no perl, and a `sync` without `-f`: a distroless image, an old
 * coreutils). Every start fsynced each block file, slow on a large store; a store closed clean now leaves a mark
 * (src/node/clean-stop.ts) that spares the next start, and only while nothing changed its directories since. The
 * store runs in a process of its own with such a PATH and the power-cut preload, whose log counts the fsyncs.
 */
import { access, chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import { afterEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { startBlockstoreProcess, type BlockstoreProcess } from '../fixtures/blockstore-process.js'
import { rawBlock } from '../fixtures/content.js'
import { preparePowerCut, type PowerCut } from '../fixtures/power-cut.js'

describe('a start without syncfs', () => {
  let dir: string
  let power: PowerCut | undefined
  let store: BlockstoreProcess | undefined
  afterEach(async () => {
    await store?.kill()
    await power?.dispose()
    await rm(dir, { recursive: true, force: true })
  })

  /** A data dir watched by the power-cut preload, and a PATH with `sh` but no perl and a `sync` that fails. */
  async function prepare (): Promise<{ start: () => Promise<BlockstoreProcess>, fsyncs: () => Promise<number> }> {
    dir = await mkdtemp(join(tmpdir(), 'pinery-clean-stop-'))
    power = await preparePowerCut(dir)
    const bin = join(dir, 'bin')
    await mkdir(bin)
    await symlink('/bin/sh', join(bin, 'sh'))
    await writeFile(join(bin, 'sync'), '#!/bin/sh\nexit 1\n')
    await chmod(join(bin, 'sync'), 0o755)
    const env = { ...power.env, PATH: bin }
    const log = power.env.PINERY_SYNC_LOG as string
    let seen = 0
    return {
      // Resolves once the store has opened (a call is answered only then).
      start: async () => {
        seen = (await readFile(log, 'utf8')).length
        const started = await startBlockstoreProcess(join(dir, 'blocks'), env)
        await started.call('has', 'nothing')
        return started
      },
      // Block files fsynced since the last start began.
      fsyncs: async () => (await readFile(log, 'utf8')).slice(seen).split('\n')
        .filter(line => line.startsWith('S\t') && line.endsWith('.data')).length
    }
  }

  /** Puts the raw blocks of `n` texts and syncs them. */
  async function putSynced (into: BlockstoreProcess, n: number, tag: string): Promise<void> {
    await Promise.all(Array.from({ length: n }, async (_, i) => await into.call('put', `${tag} ${i}`)))
    await into.call('sync')
  }

  it('fsyncs no block file after a clean stop, each after a kill', async () => {
    const { start, fsyncs } = await prepare()
    store = await start()
    await putSynced(store, 100, 'a')
    await store.stop()
    store = await start()
    // Before: 100, every block file fsynced again at each start.
    const afterClean = await fsyncs()
    await putSynced(store, 50, 'b')
    await store.kill()
    store = await start()
    expect({ afterClean, afterKill: await fsyncs() }).toEqual({ afterClean: 0, afterKill: 150 })
  })

  it('fsyncs them when a block was put after the clean stop by another process (a build before this one)', async () => {
    const { start, fsyncs } = await prepare()
    store = await start()
    await putSynced(store, 20, 'a')
    await store.stop()
    // A block file written as blockstore-fs writes one, and never fsynced.
    const { cid, bytes } = await rawBlock('put by hand')
    const { dir: shard, file } = new NextToLast().encode(cid)
    await mkdir(join(dir, 'blocks', shard), { recursive: true })
    await writeFile(join(dir, 'blocks', shard, file), bytes)
    store = await start()
    expect(await fsyncs()).toBe(21)
  })

  // A start whose sync threw (a directory's fsync failed: which files it holds is unknowable) must not leave a
  // mark that spares the next start the same check; nor a close with no open at all (review17).
  it('leaves no mark when the store was closed without having opened', async () => {
    store = undefined
    power = undefined
    dir = await mkdtemp(join(tmpdir(), 'pinery-clean-stop-'))
    const blocks = join(dir, 'blocks')
    await mkdir(blocks)
    const never = new DurableFsBlockstore(blocks)
    await never.close()
    await expect(access(`${blocks}.clean`)).rejects.toThrow()
  })
})
