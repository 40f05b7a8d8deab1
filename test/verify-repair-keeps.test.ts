/**
 * `pinery verify --repair` of a DAG missing a node between its root and its leaves. The repair unpinned the
 * DAG, and the service's start protects only what it can reach from the root through stored blocks, so the
 * leaves below the missing node (whole, on disk) were collected by the first sweep, before the fetch could
 * reach them: fetched again if an origin has them, lost if not. The DAG now stays pinned until its requests
 * settle again; one that fails releases it by its stored block list.
 */
import { access, mkdtemp, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, describe, expect, it } from 'vitest'
import { carOf } from './fixtures/content.js'
import { CLI, run, serverEnv, startServerProcess } from './fixtures/process.js'

const TOKEN = 'pinery_verify-repair-keeps-admin'
const headers = { authorization: `Bearer ${TOKEN}` }
let dataDir: string | undefined

async function cbor (value: unknown): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagCbor.encode(value)
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

/** Where blockstore-fs keeps a block: the multihash in base32upper, sharded by its last two letters. */
function blockFile (cid: CID): string {
  const name = base32upper.encode(cid.multihash.bytes)
  return join(dataDir as string, 'blocks', name.slice(-2), `${name}.data`)
}

async function stored (cid: CID): Promise<boolean> {
  return await access(blockFile(cid)).then(() => true, () => false)
}

afterAll(async () => { if (dataDir != null) await rm(dataDir, { recursive: true, force: true }) })

describe('pinery verify --repair', () => {
  it('keeps the whole blocks below a missing node until the fetch is done with them', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pinery-repair-keeps-'))
    const leaves = await Promise.all([1, 2, 3].map(async i => await cbor({ leaf: i, salt: 'repair-keeps' })))
    const mid = await cbor({ leaves: leaves.map(l => l.cid) })
    const root = await cbor({ mid: mid.cid })
    let service = await startServerProcess(serverEnv(dataDir, TOKEN))
    try {
      const res = await fetch(`${service.url}/content`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/vnd.ipld.car' },
        body: await carOf([root.cid], [root, mid, ...leaves])
      })
      expect(await res.json()).toMatchObject({ status: 'pinned' })
    } finally {
      await service.stop()
    }
    await unlink(blockFile(mid.cid))
    const repair = await run(CLI, ['verify', '--repair'], { PINERY_DATA_DIR: dataDir })
    expect(repair.code).toBe(1)
    expect(repair.stdout).toContain(`${root.cid.toString()}: 1 missing of 5 blocks`)

    // Nobody has the missing node: the fetch waits for it, while the collector sweeps every 100 ms.
    service = await startServerProcess({
      ...serverEnv(dataDir, TOKEN), PINERY_GC_INTERVAL_MS: '100', PINERY_STALL_TIMEOUT_MS: '600000'
    })
    try {
      await new Promise(resolve => setTimeout(resolve, 1500))
    } finally {
      await service.stop()
    }
    expect(await stored(root.cid)).toBe(true)
    for (const leaf of leaves) expect(await stored(leaf.cid)).toBe(true)
    expect((await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })).stdout).toMatch(/^checked 1 pinned DAG, /)

    // Still nobody has it: the request fails, and its DAG (which cannot be walked) is unpinned all the same.
    service = await startServerProcess({
      ...serverEnv(dataDir, TOKEN), PINERY_GC_INTERVAL_MS: '100', PINERY_STALL_TIMEOUT_MS: '1000'
    })
    try {
      let status = ''
      for (let i = 0; i < 100 && status !== 'failed'; i++) {
        await new Promise(resolve => setTimeout(resolve, 100))
        const { results } = await (await fetch(`${service.url}/pins?status=failed`, { headers })).json() as
          { results: Array<{ status: string }> }
        status = results[0]?.status ?? ''
      }
      expect(status).toBe('failed')
    } finally {
      await service.stop()
    }
    const after = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect(after.stdout).toMatch(/^checked 0 pinned DAGs, 0 blocks/)
    expect(after.code).toBe(0)
  }, 60_000)
})
