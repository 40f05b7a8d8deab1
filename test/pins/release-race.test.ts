/**
 * A request for a CID whose last request is being deleted: the deletion's
 * release found no reference and is unpinning the DAG (walking it first) when
 * the new request is written. The new request must not be settled `pinned` on
 * the pin being taken away: it either sees the pin gone (and fetches) or
 * keeps it.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { carOf, postContent } from '../fixtures/content.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

type Block = { cid: CID, bytes: Uint8Array }

async function cbor (value: unknown): Promise<Block> {
  const bytes = dagCbor.encode(value)
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

/** A DAG of ~10,000 dag-cbor blocks: unpinning it walks (reads) every one, which takes a while. */
async function wideDag (): Promise<{ root: CID, blocks: Block[] }> {
  const blocks: Block[] = []
  const mids: CID[] = []
  for (let i = 0; i < 50; i++) {
    const leaves: CID[] = []
    for (let j = 0; j < 200; j++) {
      const b = await cbor({ i, j, salt: 'release-race' })
      blocks.push(b)
      leaves.push(b.cid)
    }
    const mid = await cbor({ leaves })
    blocks.push(mid)
    mids.push(mid.cid)
  }
  const root = await cbor({ mids })
  return { root: root.cid, blocks: [root, ...blocks] }
}

describe('a new request racing the release of its CID', () => {
  let svc: TestService
  beforeAll(async () => {
    // GC off during the test (collected by hand), so a fetch of the released DAG finds its blocks.
    svc = await startService({ env: { PINERY_GC_INTERVAL_MS: '86400000' } })
  })
  afterAll(async () => { await svc.destroy() })

  const pin = async (cid: CID): Promise<{ requestid: string, status: string }> => {
    const res = await svc.request('/pins', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cid: cid.toString() })
    })
    expect(res.status).toBe(202)
    return await res.json() as { requestid: string, status: string }
  }
  const statusOf = async (id: string): Promise<string> =>
    ((await (await svc.request(`/pins/${id}`)).json()) as { status: string }).status

  it('never answers pinned on a DAG being unpinned', async () => {
    const dag = await wideDag()
    const up = await postContent(svc, await carOf([dag.root], dag.blocks),
      { user: 'admin', type: 'application/vnd.ipld.car' })
    expect(up.status).toBe(202)
    const first = await up.json() as { requestid: string, status: string }
    expect(first.status).toBe('pinned')

    const deletion = svc.request(`/pins/${first.requestid}`, { method: 'DELETE' })
    // The record is gone once GET answers 404: the release (walking 10,000 blocks) runs now.
    await waitFor(async () => (await svc.request(`/pins/${first.requestid}`)).status === 404 ? true : undefined,
      10_000, 'the record removed')
    const second = await pin(dag.root)
    expect((await deletion).status).toBe(202)
    const settled = await waitFor(async () => {
      const s = await statusOf(second.requestid)
      return s === 'pinned' || s === 'failed' ? s : undefined
    }, 30_000, 'the new request settled')
    expect(settled).toBe('pinned')

    // The DAG it reports pinned is pinned: it survives a collection, and a third request settles at once.
    await svc.pinery.gc.collect()
    expect((await pin(dag.root)).status).toBe('pinned')
    for (const b of [dag.blocks[0], dag.blocks[1], dag.blocks.at(-1)] as Block[]) {
      expect(await svc.pinery.node.helia.blockstore.has(b.cid)).toBe(true)
    }
  }, 120_000)
})
