/**
 * The blockstore's directory carries ext4's "top of a hierarchy" flag (chattr +T), so the shard directories it
 * makes are spread over the disk's block groups instead of sharing the ones where other processes' files were
 * just removed (spread-dirs.ts for why and the measurement). Where the file system has no such flag, the store
 * opens and works as before.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import toBuffer from 'it-to-buffer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { spreadSubdirectories } from '../../src/node/spread-dirs.js'

const run = promisify(execFile)

/** The lsattr flags of a directory, or undefined where the file system has none. */
async function flags (dir: string): Promise<string | undefined> {
  try {
    return (await run('lsattr', ['-d', dir])).stdout.split(' ')[0]
  } catch {
    return undefined
  }
}

describe('spreadSubdirectories', () => {
  const dirs: string[] = []
  const tempDir = async (parent: string): Promise<string> => {
    const dir = await mkdtemp(join(parent, 'pinery-spread-'))
    dirs.push(dir)
    return dir
  }
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('flags the blockstore directory when the store opens, and blocks go in and out as before', async () => {
    const dir = await tempDir(tmpdir())
    // Never skipped: this machine kind's temp dir is on ext4 (the flag's reason), and scripts/test-tools.sh
    // brings chattr and lsattr. Elsewhere the message says why it fails.
    const fsType = (await run('stat', ['-f', '-c', '%T', dir])).stdout.trim()
    expect(fsType, `${tmpdir()} is on ${fsType}, not ext2/3/4: this test needs ext4`).toMatch(/^ext/)
    const probe = join(dir, 'probe')
    await run('mkdir', [probe])
    expect(await spreadSubdirectories(probe), 'chattr +T on a directory of the temp dir').toBe(true)
    const store = new DurableFsBlockstore(join(dir, 'blocks'))
    await store.open()
    try {
      expect(await flags(join(dir, 'blocks'))).toContain('T')
      const bytes = new TextEncoder().encode('spread')
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await store.put(cid, bytes)
      await store.sync()
      expect(await toBuffer(store.get(cid))).toEqual(bytes)
    } finally {
      await store.close()
    }
  })

  it('opens a store where the file system knows no such flag (tmpfs)', async () => {
    const dir = await tempDir('/dev/shm')
    expect(await spreadSubdirectories(dir)).toBe(false)
    const store = new DurableFsBlockstore(join(dir, 'blocks'))
    await store.open()
    const bytes = new TextEncoder().encode('tmpfs')
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.put(cid, bytes)
    expect(await toBuffer(store.get(cid))).toEqual(bytes)
    await store.close()
  })
})
