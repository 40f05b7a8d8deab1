/**
 * Block files survive a power cut once their pin is answered `pinned`: also those an earlier process
 * stored and was killed before making durable (a fetch trusts a stored block that hashes right and does not
 * write it again), and those a later upload of the same bytes was writing when the power went; and a CAR
 * is not answered `pinned` over stored blocks a power cut left torn. The power-cut fixture cuts the block
 * files too (names never made durable gone, bytes never fsynced cut).
 */
import { randomBytes } from 'node:crypto'
import { access, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { blocksOf, carOf, fileDag, type Block } from './fixtures/content.js'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { powerCutCases, type PowerCut } from './fixtures/power-cut.js'
import { CLI, run, serverEnv } from './fixtures/process.js'
import { waitFor } from './fixtures/service.js'

const TOKEN = 'pinery_power-cut-blocks-admin-token'
const headers = { authorization: `Bearer ${TOKEN}` }

/** Block files under the data dir. */
async function blockFiles (dataDir: string): Promise<number> {
  const entries = await readdir(join(dataDir, 'blocks'), { recursive: true }).catch(() => [])
  return entries.filter(name => name.endsWith('.data')).length
}

describe('power cut: block files', () => {
  const cases = powerCutCases('pinery-power-cut-blocks-')
  let origin: Origin
  beforeAll(async () => { origin = await startOrigin() })
  afterAll(async () => { await origin.stop() })
  afterEach(cases.cleanup)

  /**
   * A process stores half a DAG's blocks and is killed before its sync; the next start (`atRestart` done before
   * it) pins the DAG over them; then the power goes. What reads back, `pinery verify`, and the second start's log.
   */
  async function killedThenPinned (atRestart: (power: PowerCut) => Promise<void>): Promise<Record<string, unknown>> {
    const { dataDir, power, start, kill } = await cases.open()
    // 20 leaves and a root: fewer new blocks than make a syncfs in either process.
    const bytes = randomBytes(20 * 256 * 1024 - 1000)
    const all = await blocksOf(await fileDag(bytes))
    const root = all[0]?.cid.toString() as string
    // The origin has the root and every other leaf: the first process stores those, then waits.
    const first = all.filter((_, n) => n % 2 === 0)
    for (const b of first) await origin.node.helia.blockstore.put(b.cid, b.bytes)
    const env = { ...serverEnv(dataDir, TOKEN), PINERY_STALL_TIMEOUT_MS: '600000', ...power.env }
    let server = await start(env)
    const res = await fetch(`${server.url}/pins`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: root, origins: origin.addrs })
    })
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    await waitFor(async () => await blockFiles(dataDir) >= first.length ? true : undefined, 20_000, 'stored blocks')
    // A crash (no power cut): what the process wrote is in the page cache, not yet durable.
    await kill()

    for (const b of all) await origin.node.helia.blockstore.put(b.cid, b.bytes)
    await atRestart(power)
    server = await start(env)
    const log = server
    await waitFor(async () => {
      const s = await (await fetch(`${server.url}/pins/${requestid}`, { headers })).json() as { status: string }
      return s.status === 'pinned' ? s : undefined
    }, 30_000, 'pinned after the restart')
    await kill()
    await power.cut()
    // Nothing lost can be fetched again: what reads back is what the cut left.
    for (const b of all) await origin.blockstore.delete(b.cid)

    server = await start(serverEnv(dataDir, TOKEN))
    const read = await fetch(`${server.url}/ipfs/${root}`, { headers })
    const body = read.status === 200 ? Buffer.from(await read.arrayBuffer()) : undefined
    await kill()
    const verify = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    return { status: read.status, whole: body?.equals(bytes), verify: verify.code, log: log.startLog }
  }

  it('keeps a DAG answered pinned whose blocks a process killed before its sync had stored', async () => {
    const { log, ...left } = await killedThenPinned(async () => {})
    expect(left).toEqual({ status: 200, whole: true, verify: 0 })
  })

  it('keeps those blocks when the start\'s syncfs fails, fsyncing each file and saying so', async () => {
    // sync(2), the old fallback, reports nothing: the fixture counts it as writing nothing (a failing disk).
    const fail = async (power: PowerCut): Promise<void> => { await power.failSyncOnce('blocks', { syncfs: true }) }
    const { log, ...left } = await killedThenPinned(fail)
    expect(left).toEqual({ status: 200, whole: true, verify: 0 })
    expect(log).toMatch(/"files":\d+,"removed":0,.*syncfs failed at start; every block file was fsynced instead/)
  })

  it('does not start when, after the start\'s syncfs failed, a directory\'s fsync fails too', async () => {
    // Which entries such a directory holds after a power cut is unknowable, and its next fsync would say 0.
    const { dataDir, power, start, kill } = await cases.open()
    const env = { ...serverEnv(dataDir, TOKEN), ...power.env }
    await start(env)
    await kill()
    await power.failSyncOnce('blocks', { syncfs: true })
    await power.failSyncOnce('blocks', { directory: true })
    await expect(start(env))
      .rejects.toThrow(/blockstore at \S+ cannot be opened: the disk failed to make \S+blocks durable/)
    // Both failures were met: the syncfs's, then the directory's.
    const cues = [power.env.PINERY_SYNC_EIO as string, `${power.env.PINERY_SYNC_EIO as string}.1`]
    expect(await Promise.all(cues.map(async cue => await access(cue).then(() => 'waiting', () => 'used'))))
      .toEqual(['used', 'used'])
  })

  it('keeps an upload answered pinned whole while the same bytes are uploaded again', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    const env = { ...serverEnv(dataDir, TOKEN), ...power.env }
    let server = await start(env)
    const content = randomBytes(4 * 1024 * 1024)
    const res = await fetch(`${server.url}/content?name=first`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: content
    })
    const first = await res.json() as { status: string, pin: { cid: string } }
    expect(first.status).toBe('pinned')
    // The same bytes again, three quarters of them sent, the rest never: the upload is cut short by the kill.
    const body = new ReadableStream<Uint8Array>({
      start (controller) { controller.enqueue(content.subarray(0, 3 * 1024 * 1024)) }
    })
    const again = fetch(`${server.url}/content?name=again`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body, duplex: 'half'
    } as RequestInit).catch(() => undefined)
    await new Promise(resolve => setTimeout(resolve, 3000))
    // Another request's write is fsynced meanwhile: on a file system with one ordered log (XFS) that commits
    // every rename made before it, without the renamed files' data.
    const other = await fetch(`${server.url}/pins`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa' })
    })
    expect(other.status).toBe(202)
    await kill()
    await again
    await power.cut([], { journal: true })

    server = await start(serverEnv(dataDir, TOKEN))
    const read = await fetch(`${server.url}/ipfs/${first.pin.cid}`, { headers })
    const whole = read.status === 200 && Buffer.from(await read.arrayBuffer()).equals(content)
    await kill()
    const verify = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect({ status: read.status, whole, verify: verify.code }).toEqual({ status: 200, whole: true, verify: 0 })
  })

  it('answers a CAR pinned only when the blocks it lacks are stored whole', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    const all = await blocksOf(await fileDag(randomBytes(8 * 256 * 1024)))
    const [root, ...leaves] = all as [Block, ...Block[]]
    // A fetch of the DAG stores the root and four leaves, then waits for the rest nobody has.
    const fetched = [root, ...leaves.slice(0, 4)]
    for (const b of fetched) await origin.node.helia.blockstore.put(b.cid, b.bytes)
    const env = { ...serverEnv(dataDir, TOKEN), PINERY_STALL_TIMEOUT_MS: '600000', ...power.env }
    let server = await start(env)
    const json = { ...headers, 'content-type': 'application/json' }
    const body = JSON.stringify({ cid: root.cid.toString(), origins: origin.addrs })
    expect((await fetch(`${server.url}/pins`, { method: 'POST', headers: json, body })).status).toBe(202)
    await waitFor(async () => await blockFiles(dataDir) >= fetched.length ? true : undefined, 20_000, 'stored blocks')
    // Another request's fsynced write, then the power goes: the block files' names are durable, their bytes not.
    const other = JSON.stringify({ cid: 'bafkqaaa' })
    expect((await fetch(`${server.url}/pins`, { method: 'POST', headers: json, body: other })).status).toBe(202)
    await kill()
    await power.cut([], { journal: true })
    for (const b of fetched) await origin.blockstore.delete(b.cid)

    server = await start(env)
    // A CAR with the root and the leaves the fetch had not stored: the rest exists only torn.
    const car = await carOf([root.cid], [root, ...leaves.slice(4)])
    const res = await fetch(`${server.url}/content`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/vnd.ipld.car' }, body: car
    })
    const answer = await res.json() as { status: string }
    const read = await fetch(`${server.url}/ipfs/${root.cid.toString()}`, { headers })
    expect({ status: answer.status, read: read.status }).toEqual({ status: 'queued', read: 404 })
  })
})
