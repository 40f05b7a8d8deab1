/**
 * Block files a power cut left short. A block is put (temp file, rename) and only made durable
 * before its pin is acknowledged; a power cut in between can leave the file empty or short, since
 * ext4 commits the name before the delayed data. Such a file is what a later pin of the same DAG
 * finds on disk: it must be fetched again, not pinned as it is. Real peers over TCP on 127.0.0.1.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import toBuffer from 'it-to-buffer'
import { equals } from 'uint8arrays/equals'
import { afterEach, describe, expect, it } from 'vitest'
import { blocksIn, dagSizeIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import type { CID } from 'multiformats/cid'

const sharding = new NextToLast()

/** Where the service keeps `cid`'s block file. */
function blockPath (service: TestService, cid: CID): string {
  const { dir, file } = sharding.encode(cid)
  return join(service.dataDir, 'blocks', dir, file)
}

/** Leaves `bytes` as `cid`'s block file, as a cut-short write would. */
async function tear (service: TestService, cid: CID, bytes: Uint8Array): Promise<void> {
  const path = blockPath(service, cid)
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, bytes)
}

describe('block files cut short by a power cut', () => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
    service = origin = undefined
  })

  it('are fetched again by the next pin of their DAG, which ends with every block whole', async () => {
    origin = await startOrigin()
    const { cid, bytes } = await origin.addRandomFile(1)
    const blocks = await blocksIn(origin.blockstore)
    const leaves = blocks.filter(b => !equals(b.multihash.bytes, cid.multihash.bytes))
    expect(leaves.length).toBe(4)
    const [empty, short] = leaves as [CID, CID]
    service = await startService()
    // The root empty (an empty dag-pb node decodes as a node with no links), a leaf empty, another short.
    await tear(service, cid, new Uint8Array(0))
    await tear(service, empty, new Uint8Array(0))
    const whole = await toBuffer(origin.blockstore.get(short))
    await tear(service, short, whole.subarray(0, 1000))

    const created = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: origin.addrs } })
    const settled = await waitFor(async () => {
      const s = await service?.client().pinsRequestidGet({ requestid: created.requestid })
      return s?.status === 'pinned' || s?.status === 'failed' ? s : undefined
    }, 60_000, 'the pin to settle')
    expect(settled.status).toBe('pinned')
    expect(settled.info?.dag_size).toBe(String(await dagSizeIn(origin.blockstore)))
    for (const block of blocks) {
      const onDisk = await readFile(blockPath(service, block))
      expect(Buffer.compare(onDisk, await toBuffer(origin.blockstore.get(block)))).toBe(0)
    }
    // And the gateway serves the file whole, with the origin gone.
    await origin.stop()
    origin = undefined
    const read = await service.request(`/ipfs/${cid.toString()}`)
    expect(read.status).toBe(200)
    expect(Buffer.compare(Buffer.from(await read.arrayBuffer()), bytes)).toBe(0)
  })
})
