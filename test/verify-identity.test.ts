/**
 * `pinery verify` on a DAG with identity CIDs (small leaves inlined in their CID, as `ipfs add --inline`
 * makes them): they are among the blocks a pin records, but carry their bytes in themselves and are never
 * stored. The check read them from the blockstore, reported them missing and exited 1 on a whole data dir
 * (and --repair sent such DAGs to be fetched again, every time).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, describe, expect, it } from 'vitest'
import { carOf } from './fixtures/content.js'
import { CLI, run, serverEnv, startServerProcess } from './fixtures/process.js'

const TOKEN = 'pinery_verify-identity-admin'
let dataDir: string | undefined

afterAll(async () => { if (dataDir != null) await rm(dataDir, { recursive: true, force: true }) })

describe('pinery verify', () => {
  it('takes an identity CID of a pinned DAG as present', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pinery-verify-identity-'))
    const inlined = CID.createV1(raw.code, identity.digest(new TextEncoder().encode('inlined')))
    const leafBytes = new TextEncoder().encode('stored leaf')
    const leaf = { cid: CID.createV1(raw.code, await sha256.digest(leafBytes)), bytes: leafBytes }
    const rootBytes = dagCbor.encode({ inlined, leaf: leaf.cid })
    const root = { cid: CID.createV1(dagCbor.code, await sha256.digest(rootBytes)), bytes: rootBytes }
    const service = await startServerProcess(serverEnv(dataDir, TOKEN))
    try {
      const res = await fetch(`${service.url}/content`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.ipld.car' },
        body: await carOf([root.cid], [root, leaf])
      })
      expect(await res.json()).toMatchObject({ status: 'pinned' })
    } finally {
      await service.stop()
    }
    const verify = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect(verify.stdout).toMatch(/^checked 1 pinned DAG, \d+ blocks .*: every block is present and matches/)
    expect(verify.code).toBe(0)
  }, 60_000)
})
