/**
 * A CAR upload whose DAG is incomplete is answered `queued` and the worker fetches the rest from its
 * origins. The blocks it stored may exist nowhere else, yet they were protected only in memory: after a
 * restart the start protected what it reached from the root through stored blocks, so the blocks below
 * a node the CAR lacked were deleted by the first sweep, and the pin then waited for blocks nobody had.
 * They now stay protected across restarts (SIGTERM and SIGKILL) until the request settles; deleting
 * the request makes them garbage again.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { Level } from 'level'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { splitDag, type Block } from '../fixtures/content.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import type { CID } from 'multiformats/cid'

const TOKEN = 'pinery_car-queued-restart-admin'
const auth = { authorization: `Bearer ${TOKEN}` }

describe('a queued CAR upload across restarts', () => {
  let origin: Origin
  let dataDir: string
  let server: ServerProcess | undefined
  /** Every CID the origin was asked for (its blockstore's get and has, which its bitswap answers from). */
  const asked = new Set<string>()

  beforeAll(async () => {
    origin = await startOrigin()
    for (const method of ['get', 'has'] as const) {
      const real = origin.blockstore[method].bind(origin.blockstore) as (cid: CID, ...rest: unknown[]) => unknown
      const spy = (cid: CID, ...rest: unknown[]): unknown => { asked.add(cid.toString()); return real(cid, ...rest) }
      Object.assign(origin.blockstore, { [method]: spy })
    }
    dataDir = await mkdtemp(join(tmpdir(), 'pinery-car-queued-'))
  })
  afterAll(async () => {
    await server?.stop()
    await origin.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  const env = (): Record<string, string> => ({
    ...serverEnv(dataDir, TOKEN), PINERY_GC_INTERVAL_MS: '100', PINERY_STALL_TIMEOUT_MS: '600000'
  })
  const gcRuns = async (url: string): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text()
    return Number(/^pinery_gc_runs_total (\d+)/m.exec(text)?.[1] ?? 0)
  }
  /** Restarts the service (`how` stops the old one) and waits for the first sweep of the new one. */
  const restart = async (how: 'SIGTERM' | 'SIGKILL'): Promise<ServerProcess> => {
    if (server != null) {
      const exited = new Promise(resolve => server?.child.once('exit', resolve))
      server.child.kill(how)
      await exited
    }
    server = await startServerProcess(env())
    const deadline = Date.now() + 20_000
    while (await gcRuns(server.url) < 1) {
      if (Date.now() > deadline) throw new Error('no garbage collection ran')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return server
  }
  const stored = async (blocks: Block[]): Promise<string[]> => {
    const store = new FsBlockstore(join(dataDir, 'blocks'))
    await store.open()
    try {
      const held: string[] = []
      for (const { cid } of blocks) if (await store.has(cid)) held.push(cid.toString())
      return held
    } finally {
      await store.close()
    }
  }
  const upload = async (url: string, car: Uint8Array): Promise<{ requestid: string, status: string }> => {
    const qs = new URLSearchParams({ origins: origin.addrs.join(',') })
    const res = await fetch(`${url}/content?${qs.toString()}`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/vnd.ipld.car' }, body: car
    })
    expect(res.status).toBe(202)
    return await res.json() as { requestid: string, status: string }
  }
  const statusOf = async (url: string, requestid: string): Promise<string> =>
    ((await (await fetch(`${url}/pins/${requestid}`, { headers: auth })).json()) as { status: string }).status

  it('keeps the blocks it stored until it is pinned, and lets them go when deleted', async () => {
    const kept = await splitDag()
    const dropped = await splitDag()
    let url = (await restart('SIGTERM')).url
    const a = await upload(url, kept.car)
    const b = await upload(url, dropped.car)
    expect([a.status, b.status]).toEqual(['queued', 'queued'])
    const names = (blocks: Block[]): string[] => blocks.map(x => x.cid.toString())
    const sent = (dag: typeof kept): Block[] => dag.all.filter(x => !x.cid.equals(dag.missing.cid))

    url = (await restart('SIGTERM')).url
    expect(await stored(sent(kept))).toEqual(names(sent(kept)))
    url = (await restart('SIGKILL')).url
    expect(await stored(sent(kept))).toEqual(names(sent(kept)))
    expect(await stored(sent(dropped))).toEqual(names(sent(dropped)))

    // Deleted: its blocks are garbage again.
    expect((await fetch(`${url}/pins/${b.requestid}`, { method: 'DELETE', headers: auth })).status).toBe(202)
    const deadline = Date.now() + 20_000
    while ((await stored(sent(dropped))).length > 0) {
      if (Date.now() > deadline) throw new Error(`still stored: ${(await stored(sent(dropped))).join(' ')}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }

    // The missing node arrives: pinned from what the user uploaded, never asked of the origin.
    await origin.blockstore.put(kept.missing.cid, kept.missing.bytes)
    await origin.dial(server?.delegates ?? [])
    const pinnedBy = Date.now() + 30_000
    while (await statusOf(url, a.requestid) !== 'pinned') {
      if (Date.now() > pinnedBy) throw new Error(`not pinned: ${await statusOf(url, a.requestid)}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(asked.has(kept.missing.cid.toString())).toBe(true)
    expect(names(kept.below).filter(c => asked.has(c))).toEqual([])
    url = (await restart('SIGKILL')).url
    expect(await stored(kept.all)).toEqual(names(kept.all))
    expect(await statusOf(url, a.requestid)).toBe('pinned')
  }, 120_000)

  it('keeps them when the request is replaced by one for the same DAG, and drops their list once pinned', async () => {
    const dag = await splitDag()
    let url = (await restart('SIGTERM')).url
    const first = await upload(url, dag.car)
    const res = await fetch(`${url}/pins/${first.requestid}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: dag.root.toString(), name: 'renamed', origins: origin.addrs })
    })
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    const sent = dag.all.filter(x => !x.cid.equals(dag.missing.cid))
    const names = sent.map(x => x.cid.toString())
    // The upload looks whether its request settled every 500 ms; then the collector's next sweeps.
    await new Promise(resolve => setTimeout(resolve, 2000))
    expect(await stored(sent)).toEqual(names)
    url = (await restart('SIGKILL')).url
    expect(await stored(sent)).toEqual(names)

    await origin.blockstore.put(dag.missing.cid, dag.missing.bytes)
    await origin.dial(server?.delegates ?? [])
    const pinnedBy = Date.now() + 30_000
    while (await statusOf(url, requestid) !== 'pinned') {
      if (Date.now() > pinnedBy) throw new Error(`not pinned: ${await statusOf(url, requestid)}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(dag.below.map(b => b.cid.toString()).filter(c => asked.has(c))).toEqual([])
    // The resumed upload lets go of its list once no request names it (polled every 200 ms).
    await new Promise(resolve => setTimeout(resolve, 1000))
    await server?.stop()
    server = undefined
    const db = new Level<string, Uint8Array>(join(dataDir, 'datastore'), { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      const left = await db.keys({ gt: '/pinery/upload', lt: '/pinery/upload\xff' }).all()
      expect(left).toEqual([])
    } finally {
      await db.close()
    }
  }, 120_000)
})
