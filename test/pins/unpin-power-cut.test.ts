/**
 * An unpin is durable before garbage collection deletes what it freed. The
 * DAG pin's removal was written without an fsync while the collector deleted
 * the blocks at once: a power cut then brought the pin back over deleted
 * blocks, and the next request for the CID was answered `pinned` on content
 * that was gone (and the pin could never be released: its blocks cannot be
 * listed).
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { afterEach, describe, expect, it } from 'vitest'
import { blocksOf, fileDag } from '../fixtures/content.js'
import { powerCutCases } from '../fixtures/power-cut.js'
import { serverEnv } from '../fixtures/process.js'
import type { CID } from 'multiformats/cid'

const TOKEN = 'pinery_unpin-power-cut-admin'
const headers = { authorization: `Bearer ${TOKEN}` }

describe('an unpin and a power cut', () => {
  const cases = powerCutCases('pinery-unpin-cut-')
  afterEach(cases.cleanup)

  async function stored (dataDir: string, cids: CID[]): Promise<number> {
    const store = new FsBlockstore(join(dataDir, 'blocks'))
    await store.open()
    try {
      let n = 0
      for (const cid of cids) if (await store.has(cid)) n++
      return n
    } finally {
      await store.close()
    }
  }

  it('never brings a pin back over blocks the collector deleted', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    const env = { ...serverEnv(dataDir, TOKEN), PINERY_GC_INTERVAL_MS: '100', PINERY_STALL_TIMEOUT_MS: '1000' }
    let server = await start({ ...env, ...power.env })
    const bytes = randomBytes(900 * 1024)
    const blocks = (await blocksOf(await fileDag(bytes))).map(b => b.cid)
    const up = await fetch(`${server.url}/content`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: bytes
    })
    const upload = await up.json() as { requestid: string, status: string, pin: { cid: string } }
    expect(upload.status).toBe('pinned')
    expect(await stored(dataDir, blocks)).toBe(blocks.length)

    expect((await fetch(`${server.url}/pins/${upload.requestid}`, { method: 'DELETE', headers })).status).toBe(202)
    const deadline = Date.now() + 10_000
    while (await stored(dataDir, blocks) > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(await stored(dataDir, blocks)).toBe(0)
    await kill()
    await power.cut()

    server = await start(env)
    const again = await fetch(`${server.url}/pins`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: upload.pin.cid })
    })
    const status = (await again.json() as { status: string }).status
    // Nobody has the blocks any more: the request must wait for them (and fail), never read pinned.
    expect(status).not.toBe('pinned')
  }, 120_000)
})
