/**
 * A pin keeps its place in the queue where the service used to send it to the back of its owner's queue: a
 * restarted or replaced pin across a restart of the service process (old code: the queue was rebuilt by each
 * request's own creation time, the replacement's being the newest), and a pin run again after a failed block
 * sync dropped blocks it relied on (old code: pushed behind every queued pin of its owner). A real Pinery
 * process with one worker slot, pins no peer has to keep the queue full, a real origin over TCP.
 */
import { randomBytes } from 'node:crypto'
import { access } from 'node:fs/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { blocksOf, fileDag } from '../fixtures/content.js'
import { fileCidOf, startOrigin, type Origin } from '../fixtures/origin.js'
import { powerCutCases } from '../fixtures/power-cut.js'
import { serverEnv, type ServerProcess } from '../fixtures/process.js'
import { waitFor } from '../fixtures/service.js'

const TOKEN = 'pinery_queue-place-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
const ONE_SLOT = { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '120000', PINERY_REWANT_AFTER_MS: '300' }

interface Status { requestid: string, status: string, pin: Record<string, unknown>, info?: { status_details?: string } }

const cases = powerCutCases('pinery-queue-place-')
let server: ServerProcess
afterEach(cases.cleanup)

async function call (method: string, path: string, body?: unknown): Promise<Status> {
  const res = await fetch(`${server.url}${path}`, { method, headers, body: JSON.stringify(body) })
  expect(res.status).toBeLessThan(300)
  return await res.json() as Status
}

async function pin (name: string, cid?: string, origins?: string[]): Promise<Status> {
  return await call('POST', '/pins', { cid: cid ?? (await fileCidOf(randomBytes(64))).toString(), name, origins })
}

async function details (requestid: string): Promise<string> {
  const s = await call('GET', `/pins/${requestid}`)
  return `${s.status}: ${s.info?.status_details ?? ''}`
}

/** Waits until `requestid` holds the worker slot. */
async function holdsSlot (requestid: string): Promise<void> {
  await waitFor(async () => /queue position/.test(await details(requestid)) ? undefined : true,
    10_000, `${requestid} to hold the slot`)
}

/** The web app's Restart: the pin sent back as it is. */
async function restart (requestid: string): Promise<Status> {
  return await call('POST', `/pins/${requestid}`, (await call('GET', `/pins/${requestid}`)).pin)
}

describe('a restarted pin across a restart of the service', () => {
  it('keeps the place the replaced one had, queued or running', async () => {
    const { dataDir, start } = await cases.open()
    server = await start({ ...serverEnv(dataDir, TOKEN), ...ONE_SLOT })
    const running = await pin('running')
    await holdsSlot(running.requestid)
    const [a, b, c] = [await pin('a'), await pin('b'), await pin('c')] as [Status, Status, Status]
    const b2 = await restart(b.requestid)
    const running2 = await restart(running.requestid)
    await holdsSlot(running2.requestid)
    expect(await details(b2.requestid)).toBe('queued: queue position 2 of 3')
    await server.stop()

    server = await start({ ...serverEnv(dataDir, TOKEN), ...ONE_SLOT })
    // Old code: a took the slot and the queue read c, b2, running2.
    await holdsSlot(running2.requestid)
    expect(await Promise.all([a, b2, c].map(async s => await details(s.requestid)))).toEqual([
      'queued: queue position 1 of 3', 'queued: queue position 2 of 3', 'queued: queue position 3 of 3'
    ])
  })
})

describe('a pin whose blocks a failed sync dropped', () => {
  let origin: Origin
  beforeAll(async () => { origin = await startOrigin() })
  afterAll(async () => { await origin.stop() })

  it('runs again before its owner\'s queued pins', async () => {
    const { dataDir, power, start } = await cases.open()
    server = await start({ ...serverEnv(dataDir, TOKEN), ...ONE_SLOT, ...power.env })
    // Ten leaves and a root (each block file fsynced on its own); one leaf comes only once the queue is full.
    const all = await blocksOf(await fileDag(randomBytes(10 * 256 * 1024 - 1000)))
    const late = all.at(-1) as (typeof all)[number]
    for (const block of all.slice(0, -1)) await origin.node.helia.blockstore.put(block.cid, block.bytes)
    await power.failSyncOnce('blocks/')
    const lost = await pin('lost', all[0]?.cid.toString(), origin.addrs)
    await waitFor(async () => /fetched [1-9]/.test(await details(lost.requestid)) ? true : undefined,
      20_000, 'the fetch under way')
    const queued = [await pin('q1'), await pin('q2')]
    await origin.node.helia.blockstore.put(late.cid, late.bytes)

    // Its sync fails (BlocksLostError); fetched again at once, it is pinned while the others still wait.
    // Old code: behind q1 and q2, each holding the one slot until its stall timeout.
    await waitFor(async () => (await details(lost.requestid)).startsWith('pinned') ? true : undefined,
      30_000, 'the pin fetched again')
    // The fixture did fail a sync: its cue is gone.
    expect(await access(power.env.PINERY_SYNC_EIO as string).then(() => 'waiting', () => 'used')).toBe('used')
    expect(await Promise.all(queued.map(async s => await details(s.requestid)))).toEqual([
      expect.stringMatching(/^(queued|pinning): (starting to fetch|looking for a peer)/),
      'queued: queue position 1 of 1'
    ])
  })
})
