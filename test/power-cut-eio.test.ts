/**
 * A failed sync is not retried into `pinned`. Linux reports a failed writeback to one fsync only (errseq):
 * the next fsync of the same file succeeds though its bytes never reached the disk, and the pages stay
 * readable in the page cache, so a fetch finds the block stored and hashing right. Here one block file's
 * fsync fails with EIO (power-cut.c, its bytes kept lost by the cut); every request answered `pinned`
 * must still read whole after a power cut.
 */
import { randomBytes } from 'node:crypto'
import { access } from 'node:fs/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { blocksOf, fileDag } from './fixtures/content.js'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { powerCutCases, type PowerCut } from './fixtures/power-cut.js'
import { CLI, run, serverEnv } from './fixtures/process.js'
import { waitFor } from './fixtures/service.js'

const TOKEN = 'pinery_power-cut-eio-admin-token'
const headers = { authorization: `Bearer ${TOKEN}` }
const json = { ...headers, 'content-type': 'application/json' }

describe('power cut after a failed block sync', () => {
  const cases = powerCutCases('pinery-power-cut-eio-')
  let origin: Origin
  beforeAll(async () => { origin = await startOrigin() })
  afterAll(async () => { await origin.stop() })
  afterEach(cases.cleanup)

  /**
   * Pins a DAG of ten leaves and a root twice with `fail` armed once the service runs, then cuts the power: what
   * each request said before and after, whether the DAG reads whole, and `pinery verify`'s exit code.
   */
  async function pinTwiceThroughCut (fail: (power: PowerCut) => Promise<void>): Promise<unknown> {
    const { dataDir, power, start, kill } = await cases.open()
    // Ten leaves and a root: fewer new blocks than make a syncfs, so each block file is fsynced.
    const bytes = randomBytes(10 * 256 * 1024 - 1000)
    const all = await blocksOf(await fileDag(bytes))
    for (const b of all) await origin.node.helia.blockstore.put(b.cid, b.bytes)
    const root = all[0]?.cid.toString() as string
    let server = await start({ ...serverEnv(dataDir, TOKEN), ...power.env })
    await fail(power)
    const settled = async (requestid: string): Promise<string> => await waitFor(async () => {
      const s = await (await fetch(`${server.url}/pins/${requestid}`, { headers })).json() as { status: string }
      return s.status === 'pinned' || s.status === 'failed' ? s.status : undefined
    }, 30_000, `${requestid} settled`)
    // The first request's blocks meet the failing fsync; a second request of the same DAG comes after.
    const ids: string[] = []
    for (const name of ['first', 'second']) {
      const res = await fetch(`${server.url}/pins`, {
        method: 'POST', headers: json, body: JSON.stringify({ cid: root, name, origins: origin.addrs })
      })
      expect(res.status).toBe(202)
      const { requestid } = await res.json() as { requestid: string }
      ids.push(requestid)
      await settled(requestid)
    }
    const before = await Promise.all(ids.map(settled))
    // The fixture did fail one: its cue is gone.
    expect(await access(power.env.PINERY_SYNC_EIO as string).then(() => 'waiting', () => 'used')).toBe('used')
    await kill()
    await power.cut()

    server = await start(serverEnv(dataDir, TOKEN))
    const after = await Promise.all(ids.map(async id =>
      (await (await fetch(`${server.url}/pins/${id}`, { headers })).json() as { status: string }).status))
    const read = await fetch(`${server.url}/ipfs/${root}`, { headers })
    const whole = read.status === 200 && Buffer.from(await read.arrayBuffer()).equals(bytes)
    await kill()
    const verify = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    return { before, after, whole, verify: verify.code }
  }
  const survived = { before: ['pinned', 'pinned'], after: ['pinned', 'pinned'], whole: true, verify: 0 }

  it('pins over a block file whose fsync failed only once it is written again', async () => {
    // The failed sync cost the first request its blocks, which it fetched again: both end pinned, and whole.
    expect(await pinTwiceThroughCut(async power => { await power.failSyncOnce('blocks/') })).toEqual(survived)
  })
  it('pins in new shard directories whose parent\'s fsync failed only once their entries are made again', async () => {
    // The fsync of blocks/ that should make the new shard directories' entries durable fails; the next one
    // "succeeds" without writing them (errseq), so the directories must be made again before it.
    expect(await pinTwiceThroughCut(async power => { await power.failSyncOnce('blocks', { directory: true }) }))
      .toEqual(survived)
  })
  it('answers an upload whose block sync failed 507, and keeps the one sent again whole', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    let server = await start({ ...serverEnv(dataDir, TOKEN), ...power.env })
    const content = randomBytes(3 * 1024 * 1024)
    const upload = async (): Promise<Response> => await fetch(`${server.url}/content?name=report`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: content
    })
    await power.failSyncOnce('blocks/')
    const first = await upload()
    const failure = await first.json() as { error?: { reason: string } }
    const again = await (await upload()).json() as { status: string, pin: { cid: string } }
    await kill()
    await power.cut()

    server = await start(serverEnv(dataDir, TOKEN))
    const read = await fetch(`${server.url}/ipfs/${again.pin.cid}`, { headers })
    const whole = read.status === 200 && Buffer.from(await read.arrayBuffer()).equals(content)
    await kill()
    expect({ first: first.status, reason: failure.error?.reason, again: again.status, whole })
      .toEqual({ first: 507, reason: 'INSUFFICIENT_STORAGE', again: 'pinned', whole: true })
  })
})
