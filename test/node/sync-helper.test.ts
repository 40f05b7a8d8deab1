/**
 * The syncfs helper (src/node/sync-helper.ts): a large sync of the durable blockstore goes through one
 * long-lived child made with the store (perl, or sh), not a fork of the service per sync; a helper that died is
 * replaced, and a failed syncfs says so.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { createSyncHelper } from '../../src/node/sync-helper.js'

/** The helper's command: perl where there is one (it makes the syscall itself), else sh running `sync -f`. */
const HELPER = ['sh', 'perl']

/** This process's children running one of `comms`, by pid. */
async function children (comms: string[]): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat)
    if (m != null && comms.includes(m[1] ?? '') && Number(m[2]) === process.pid) pids.push(Number(entry))
  }
  return pids
}

describe('syncfs helper', () => {
  const dirs: string[] = []
  afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

  it('serves a large sync of the blockstore from one child made with the store, replaced if killed', async () => {
    const before = await children(HELPER)
    const dir = await mkdtemp(join(tmpdir(), 'pinery-synchelper-'))
    dirs.push(dir)
    const store = new DurableFsBlockstore(join(dir, 'blocks'))
    await store.open()
    const helpers = (await children(HELPER)).filter(pid => !before.includes(pid))
    expect(helpers).toHaveLength(1)
    const put = async (n: number, tag: string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const bytes = new TextEncoder().encode(`${tag} ${i}`)
        await store.put(CID.createV1(raw.code, await sha256.digest(bytes)), bytes)
      }
    }
    // 64 new blocks and more are made durable with one syncfs (durable-blockstore.ts).
    await put(100, 'a')
    await store.sync()
    expect((await children(HELPER)).filter(pid => !before.includes(pid))).toEqual(helpers)
    process.kill(helpers[0] as number, 'SIGKILL')
    await put(100, 'b')
    await store.sync()
    const now = (await children(HELPER)).filter(pid => !before.includes(pid))
    expect(now).toHaveLength(1)
    expect(now).not.toEqual(helpers)
    await store.close()
  })

  it('says when syncfs failed', async () => {
    const helper = createSyncHelper()
    try {
      expect(await helper.syncfs(tmpdir())).toBe(true)
      expect(await helper.syncfs(join(tmpdir(), 'no such dir here'))).toBe(false)
    } finally {
      helper.close()
    }
  })
})

describe('syncfs helper after a clean stop', () => {
  let dir: string | undefined
  afterEach(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  // The start's sync is skipped after a clean stop (clean-stop.ts); the helper's descriptor must still be opened
  // before anything is put, or a syncfs error another process takes meanwhile is never seen (review17).
  it('opens the helper\'s descriptor of the store as the store opens, before any put', async () => {
    const perl = await new Promise<boolean>(resolve => {
      execFile('perl', ['-e', '1'], err => { resolve(err == null) })
    })
    if (!perl) return
    dir = await mkdtemp(join(tmpdir(), 'pinery-synchelper-clean-'))
    const blocks = join(dir, 'blocks')
    const first = new DurableFsBlockstore(blocks)
    await first.open()
    await first.close()
    const before = await children(HELPER)
    const store = new DurableFsBlockstore(blocks)
    await store.open()
    try {
      const helper = (await children(HELPER)).filter(pid => !before.includes(pid))
      expect(helper).toHaveLength(1)
      const fds = await readdir(`/proc/${helper[0]}/fd`)
      const targets = await Promise.all(fds.map(async fd => await readlink(`/proc/${helper[0]}/fd/${fd}`)
        .catch(() => '')))
      // Before: none (the first request, and its open, came with the first large pin's sync).
      expect(targets).toContain(blocks)
    } finally {
      await store.close()
    }
  })
})
