/**
 * The syncfs helper (src/node/sync-helper.ts): a large sync of the durable blockstore goes through one
 * long-lived child made with the store (perl, or sh), not a fork of the service per sync; a helper that died is
 * replaced, and a failed syncfs says so.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
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
