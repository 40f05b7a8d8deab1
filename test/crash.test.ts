/**
 * Crash safety: the service runs as a child process under a mix of pins,
 * uploads (whole files, and CARs that hold only part of a DAG whose rest comes
 * from an origin), replaces and deletes, with a busy queue (five worker slots for the one user,
 * pins nobody can serve) and frequent garbage collection. It is killed at
 * random moments, round after round, on the same data dir: every third round
 * also as a power cut (the datastore and block files cut back to what was fsynced). Whatever
 * was answered `pinned` must read `pinned` at once after each restart.
 * Afterwards every acknowledged request is there with its requestid, created
 * time and CID, acknowledged deletions stay deleted, every request ends as it
 * must (pinned, or failed when nobody has its DAG), and every block of every
 * pinned DAG is present and whole. The counts and quotas the service answers
 * (`/usage/all`) are checked against an independent recount of the records
 * (fixtures/recount.ts) after every restart, and exactly at the end, also
 * after a clean stop and a start from the index snapshot.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import toBuffer from 'it-to-buffer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blocksOf, carOf, fileDag } from './fixtures/content.js'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { preparePowerCut, type PowerCut } from './fixtures/power-cut.js'
import { askedUsage, recountUsage, type Recounted } from './fixtures/recount.js'
import { serverEnv, startServerProcess, type ServerProcess } from './fixtures/process.js'

const TOKEN = 'pinery_crash-test-admin-token'
const ROUNDS = 12

/** What a request must end as, and the blocks it then needs. */
interface Dag { cid: string, blocks: CID[], outcome: 'pinned' | 'failed' }
interface Known { requestid: string, created: string, dag: Dag }
type Block = { cid: CID, bytes: Uint8Array }

describe('crash safety (SIGKILL and power cuts)', () => {
  let origin: Origin
  let dataDir: string
  let power: PowerCut
  /** DAGs the origin serves whole. */
  const served: Dag[] = []
  /** DAGs split in two: the origin has the odd blocks, the CAR uploaded the even ones (root included). */
  const split: Array<Dag & { car: Uint8Array }> = []
  /** Files to upload, each with the CID and blocks kubo would give it. */
  const uploads: Array<Dag & { bytes: Uint8Array }> = []
  const nobody: Dag[] = []

  beforeAll(async () => {
    origin = await startOrigin()
    dataDir = await mkdtemp(join(tmpdir(), 'pinery-crash-'))
    power = await preparePowerCut(dataDir)
    for (let i = 0; i < 5; i++) {
      const dag = await fileDag(randomBytes((1 + (i % 3)) * 1024 * 1024 + 1000))
      const all = await blocksOf(dag)
      for (const b of all) await origin.node.helia.blockstore.put(b.cid, b.bytes)
      served.push({ cid: dag.root.toString(), blocks: all.map(b => b.cid), outcome: 'pinned' })
      const halves = await blocksOf(await fileDag(randomBytes(1024 * 1024 + 1000 * i)))
      for (const b of halves.filter((_, n) => n % 2 === 1)) await origin.node.helia.blockstore.put(b.cid, b.bytes)
      const car = await carOf([(halves[0] as Block).cid], halves.filter((_, n) => n % 2 === 0))
      split.push({ cid: (halves[0] as Block).cid.toString(), blocks: halves.map(b => b.cid), outcome: 'pinned', car })
      const bytes = randomBytes(200 * 1024 + i * 150 * 1024)
      const up = await blocksOf(await fileDag(bytes))
      uploads.push({ cid: (up[0] as Block).cid.toString(), blocks: up.map(b => b.cid), outcome: 'pinned', bytes })
      const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
      nobody.push({ cid: missing.toString(), blocks: [], outcome: 'failed' })
    }
  })
  afterAll(async () => {
    await origin.stop()
    await power.dispose()
    await rm(dataDir, { recursive: true, force: true })
  })

  it(`keeps every acknowledged request across ${ROUNDS} kills`, async () => {
    const live = new Map<string, Known>() // acknowledged and not (acknowledged) deleted
    const deleted = new Set<string>() // acknowledged deletions and replaced requests
    const uncertain = new Set<string>() // touched by a request the kill cut short
    const counts = { pins: 0, uploads: 0, cars: 0, replaces: 0, deletes: 0, cuts: 0 }
    const env = {
      ...serverEnv(dataDir, TOKEN),
      PINERY_GC_INTERVAL_MS: '100',
      // One user holds at most concurrency − 1 slots: five for these pins, so the many pins nobody
      // can serve (1.5 s each) settle in time however many a quiet machine acknowledged.
      PINERY_PIN_CONCURRENCY: '6',
      PINERY_STALL_TIMEOUT_MS: '1500',
      ...power.env
    }
    const auth = { authorization: `Bearer ${TOKEN}` }
    const json = { ...auth, 'content-type': 'application/json' }
    const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)] as T
    const identity = (): Dag =>
      ({ cid: `bafkqa${'a'.repeat(Math.floor(Math.random() * 4))}`, blocks: [], outcome: 'pinned' })
    const pinDag = (): Dag => {
      const r = Math.random()
      return r < 0.6 ? pick(served) : r < 0.8 ? pick(nobody) : identity()
    }
    /** Requests answered `pinned`: that answer must hold at once after any restart. */
    const answeredPinned = new Set<string>()
    const accepted = async (res: Response, dag: Dag): Promise<Known | undefined> => {
      if (res.status !== 202) return undefined
      const s = await res.json() as { requestid: string, created: string, status: string }
      if (s.status === 'pinned') answeredPinned.add(s.requestid)
      return { requestid: s.requestid, created: s.created, dag }
    }

    const requestOnce = async (url: string, target: string | undefined): Promise<void> => {
      const op = Math.random()
      if (op < 0.35 || target == null) {
        const dag = pinDag()
        const res = await fetch(`${url}/pins`, {
          method: 'POST', headers: json, body: JSON.stringify({ cid: dag.cid, origins: origin.addrs })
        })
        const known = await accepted(res, dag)
        if (known != null) { live.set(known.requestid, known); counts.pins++ }
      } else if (op < 0.5) {
        const file = pick(uploads)
        const res = await fetch(`${url}/content`, {
          method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: file.bytes
        })
        const known = await accepted(res, file)
        if (known != null) { live.set(known.requestid, known); counts.uploads++ }
      } else if (op < 0.62) {
        // Half a DAG whose other half only the origin has: the CAR's blocks exist nowhere else.
        const dag = pick(split)
        const car = dag.car
        const qs = new URLSearchParams({ origins: origin.addrs.join(',') })
        const res = await fetch(`${url}/content?${qs.toString()}`, {
          method: 'POST', headers: { ...auth, 'content-type': 'application/vnd.ipld.car' }, body: car
        })
        const known = await accepted(res, dag) // one root: one PinStatus
        if (known != null) { live.set(known.requestid, known); counts.cars++ }
      } else if (op < 0.82) {
        uncertain.add(target)
        const dag = pinDag()
        const res = await fetch(`${url}/pins/${target}`, {
          method: 'POST', headers: json, body: JSON.stringify({ cid: dag.cid, origins: origin.addrs })
        })
        const known = await accepted(res, dag)
        if (known != null) {
          live.delete(target)
          deleted.add(target)
          uncertain.delete(target)
          live.set(known.requestid, known)
          counts.replaces++
        }
      } else {
        uncertain.add(target)
        const res = await fetch(`${url}/pins/${target}`, { method: 'DELETE', headers: auth })
        if (res.status === 202) {
          live.delete(target)
          deleted.add(target)
          uncertain.delete(target)
          counts.deletes++
        }
      }
    }

    /**
     * What the service answers at once after a restart against the recount of the records before it: the
     * same requests per user; resumed requests may settle meanwhile (pending → pinned or failed, never back).
     */
    const matchesRecount = async (url: string, recounted: Map<string, Recounted>): Promise<void> => {
      const answered = await askedUsage(url, TOKEN)
      const total = (u: Recounted): number => Object.values(u.pins).reduce((a, b) => a + b, 0)
      const pending = (u: Recounted): number => u.pins.queued + u.pins.pinning
      const shape = (m: Map<string, Recounted>, f: (u: Recounted) => number): Array<[string, number]> =>
        [...m].map(([user, u]) => [user, f(u)])
      expect(shape(answered, total), 'requests per user against the records').toEqual(shape(recounted, total))
      for (const [user, u] of answered) {
        const r = recounted.get(user) as Recounted
        expect(pending(u), `${user}'s pending requests`).toBeLessThanOrEqual(pending(r))
        expect(u.pins.pinned, `${user}'s pinned requests`).toBeGreaterThanOrEqual(r.pins.pinned)
        expect(u.pins.failed, `${user}'s failed requests`).toBeGreaterThanOrEqual(r.pins.failed)
      }
    }

    for (let round = 0; round < ROUNDS; round++) {
      const recounted = await recountUsage(dataDir).catch(() => new Map<string, Recounted>())
      const server: ServerProcess = await startServerProcess(env)
      await matchesRecount(server.url, recounted)
      for (const id of answeredPinned) {
        if (!live.has(id)) continue
        const res = await fetch(`${server.url}/pins/${id}`, { headers: auth })
        const { status } = await res.json() as { status: string }
        expect(status, `${id} was answered pinned before the kill`).toBe('pinned')
      }
      let killed = false
      const worker = async (): Promise<void> => {
        while (!killed) {
          const target = live.size > 0 ? pick([...live.keys()]) : undefined
          try {
            await requestOnce(server.url, target)
          } catch {
            // The kill cut this request short: its outcome is unknown, and that is allowed.
          }
        }
      }
      const workers = [worker(), worker(), worker()]
      await new Promise(resolve => setTimeout(resolve, 300 + Math.random() * 1200))
      killed = true
      server.child.kill('SIGKILL')
      await once(server.child, 'exit')
      await Promise.all(workers)
      // Every other cut as on a file system whose one log commits names in order (see madeNames).
      if (round % 3 === 2) { await power.cut([], { journal: round % 6 === 5 }); counts.cuts++ }
      // Requests cut short may or may not have happened: stop asserting about them.
      for (const id of uncertain) live.delete(id)
    }

    const server = await startServerProcess(env)
    try {
      expect(live.size).toBeGreaterThan(10)
      expect(counts.uploads + counts.cars).toBeGreaterThan(2)
      for (const known of live.values()) {
        const res = await fetch(`${server.url}/pins/${known.requestid}`, { headers: auth })
        expect(res.status, `acknowledged ${known.requestid}`).toBe(200)
        const body = await res.json() as { requestid: string, created: string, pin: { cid: string } }
        expect(body).toMatchObject({ requestid: known.requestid, created: known.created })
        expect(CID.parse(body.pin.cid).toV1().toString()).toBe(CID.parse(known.dag.cid).toV1().toString())
      }
      for (const id of deleted) {
        if (uncertain.has(id)) continue
        expect((await fetch(`${server.url}/pins/${id}`, { headers: auth })).status, `deleted ${id}`).toBe(404)
      }
      // Everything pending resumes and settles as it must.
      const deadline = Date.now() + 150_000
      for (;;) {
        const res = await fetch(`${server.url}/pins?status=queued,pinning&limit=1`, { headers: auth })
        const { count } = await res.json() as { count: number }
        if (count === 0) break
        if (Date.now() > deadline) {
          const stuck = await (await fetch(`${server.url}/pins?status=pinning&limit=5`, { headers: auth })).json() as {
            results: Array<{ status: string, pin: { cid: string }, info?: { status_details?: string } }>
          }
          const what = stuck.results.map(r => `${r.pin.cid} ${r.status} (${r.info?.status_details ?? ''})`).join('; ')
          throw new Error(`${count} requests still not settled, e.g. ${what}`)
        }
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      for (const known of live.values()) {
        const res = await fetch(`${server.url}/pins/${known.requestid}`, { headers: auth })
        const { status } = await res.json() as { status: string }
        expect(status, `${known.requestid} of ${known.dag.cid}`).toBe(known.dag.outcome)
      }
      // Let collections run, then look at the blocks with the service stopped.
      await new Promise(resolve => setTimeout(resolve, 1000))
      // Nothing pending: counts and quotas exactly as the records give them.
      const answered = await askedUsage(server.url, TOKEN)
      await server.stop()
      expect(answered, 'usage against the records').toEqual(await recountUsage(dataDir))
      // A clean stop saved the index: started from it, the same again.
      const again = await startServerProcess(env)
      try {
        expect(await askedUsage(again.url, TOKEN), 'usage from the snapshot').toEqual(answered)
      } finally {
        await again.stop()
      }
    } finally {
      await server.stop()
    }
    const blockstore = new FsBlockstore(join(dataDir, 'blocks'))
    await blockstore.open()
    try {
      for (const known of live.values()) {
        for (const block of known.dag.blocks) {
          // Whole, too: the power cuts cut block files back to what was made durable.
          const bytes = await blockstore.has(block) ? await toBuffer(blockstore.get(block)) : undefined
          const whole = bytes != null && Buffer.from((await sha256.digest(bytes)).digest).equals(block.multihash.digest)
          expect(whole, `block ${block.toString()} of ${known.dag.cid}`).toBe(true)
        }
      }
    } finally {
      await blockstore.close()
    }
  }, 420_000)
})
