/**
 * Whether the store hears of a failed writeback that another process's syncfs heard of first. Linux keeps a file
 * system's writeback error per superblock and samples it per open file (errseq): a syncfs reports it to each open
 * file once, and a file opened after someone's syncfs reported it samples it as seen. `sync -f` opens the path
 * anew each time, so after another process's `sync -f` of the same file system (a backup script, a second
 * service) the store's own `sync -f` returned 0 and blocks that never reached the disk were answered for. Here the
 * writeback fails for real: ext4 on a loop device with too little room underneath (test/fixtures/failing-fs.ts).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { mountFailingFs, type FailingFs } from '../fixtures/failing-fs.js'

describe('a failed writeback another process heard of first', () => {
  let dir: string
  let failing: FailingFs | undefined
  let store: DurableFsBlockstore | undefined
  afterEach(async () => {
    await store?.close().catch(() => {})
    await failing?.dispose()
    await rm(dir, { recursive: true, force: true })
  })

  it('still fails the store\'s sync of many blocks (one syncfs), and drops them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-syncfs-report-'))
    failing = await mountFailingFs(dir, 4)
    store = new DurableFsBlockstore(join(failing.mnt, 'blocks'))
    await store.open()
    // 200 blocks of 48 KiB (through the page cache: under direct-write.ts's 64 KiB; fewer than the 256 of an
    // early sync, more than the 64 from which a sync is one syncfs): ~9.4 MiB, where 4 MiB fit underneath.
    const cids: CID[] = []
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(48 * 1024)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await store.put(cid, bytes)
      cids.push(cid)
    }
    const other = await promisify(execFile)('sync', ['-f', failing.mnt]).then(() => 'ok', () => 'failed')
    const ours = await store.sync().then(() => 'ok', (err: NodeJS.ErrnoException) => err.code ?? err.name)
    let kept = 0
    for (const cid of cids) if (await store.has(cid)) kept++
    // Before (`sync -f` per sync): { other: 'failed', ours: 'ok', kept: 200 }, the blocks answered for.
    expect({ other, ours, kept }).toEqual({ other: 'failed', ours: expect.stringMatching(/^E/) as string, kept: 0 })
  })
})
