/**
 * A full disk loses nothing Pinery acknowledged. The service runs as a child
 * process with a preloaded library (fixtures/disk-full.c) that makes
 * LevelDB's writes run out of room on cue, cutting one write short part-way
 * as a real full disk does; then the disk is freed, more requests are sent,
 * and after a restart every request that was answered 202 is still there.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { diskFullEnv } from './fixtures/disk-full.js'
import { serverEnv, startServerProcess, type ServerProcess } from './fixtures/process.js'

/** Polls `check` every 100 ms until it holds, for at most `ms`. */
async function until (check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const TOKEN = 'pinery_storage-full-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

/** A started service whose disk fills while `cue` exists; `env` starts it again without the library. */
interface Fillable { url: string, cue: string, env: Record<string, string> }

describe('disk full', () => {
  let dir: string | undefined
  let server: ServerProcess | undefined
  afterEach(async () => {
    await server?.stop()
    server = undefined
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  /**
   * Starts the service on a new data dir with the disk-full library: writes under its datastore run out of
   * room while `cue` exists. `env` is the plain environment (without the library), for a restart.
   */
  async function startFillable (extra: Record<string, string> = {}): Promise<Fillable> {
    dir = await mkdtemp(join(tmpdir(), 'pinery-disk-full-'))
    const dataDir = join(dir, 'data')
    const cue = join(dir, 'full')
    const env = { ...serverEnv(dataDir, TOKEN), ...extra }
    server = await startServerProcess({
      ...env,
      ...await diskFullEnv(dataDir, cue)
    })
    return { url: server.url, cue, env }
  }

  /** POSTs a pin of a fresh CID; the request id when answered 202, else the status and body. */
  const pin = async (url: string): Promise<{ requestid?: string, status: number, body: string }> => {
    const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
    const res = await fetch(`${url}/pins`, {
      method: 'POST', headers, body: JSON.stringify({ cid, meta: { pad: 'x'.repeat(2000) } })
    })
    const body = await res.text()
    return { status: res.status, body, ...(res.status === 202 ? { requestid: JSON.parse(body).requestid } : {}) }
  }

  it('answers 507 while LevelDB cannot write, and keeps every request it answered 202 across a restart', async () => {
    const { cue, env } = await startFillable({ PINERY_STALL_TIMEOUT_MS: '600000' })
    if (server == null) throw new Error('not started')
    const answered: string[] = []
    for (let i = 0; i < 10; i++) answered.push((await pin(server.url)).requestid as string)

    // Room for ~1.5 requests' records: the next write is cut short part-way.
    await writeFile(cue, '3000')
    const refused = []
    for (let i = 0; i < 10; i++) {
      const res = await pin(server.url)
      if (res.requestid != null) answered.push(res.requestid)
      else refused.push(res)
    }
    expect(refused.length).toBeGreaterThan(0)

    // Room again: requests are taken once the datastore has recovered, and none of them is lost.
    await rm(cue)
    let taken = 0
    for (let i = 0; i < 200 && taken < 20; i++) {
      const res = await pin(server.url)
      if (res.requestid != null) { answered.push(res.requestid); taken++ } else {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
    expect(taken).toBe(20)

    expect(await server.stop()).toBe(0)
    server = await startServerProcess(env)
    const missing = []
    for (const requestid of answered) {
      const res = await fetch(`${server.url}/pins/${requestid}`, { headers })
      if (res.status !== 200) missing.push(requestid)
    }
    expect(missing).toEqual([])
    // Refused as a full disk, with the spec's Failure body, not as a bug.
    for (const res of refused) {
      expect(res.status, res.body).toBe(507)
      expect(JSON.parse(res.body)).toMatchObject({ error: { reason: 'INSUFFICIENT_STORAGE' } })
    }
  })

  it('settles a pin whose outcome could not be written, once the disk has room', async () => {
    const { url, cue } = await startFillable({ PINERY_STALL_TIMEOUT_MS: '3000' })
    // A CID nobody has: the fetch stalls and the request fails, but `failed` cannot be written.
    const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
    const res = await fetch(`${url}/pins`, { method: 'POST', headers, body: JSON.stringify({ cid }) })
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    const status = async (): Promise<string | undefined> => {
      const answer = await fetch(`${url}/pins/${requestid}`, { headers })
      return answer.status === 200 ? (await answer.json() as { status: string }).status : undefined
    }
    await until(async () => await status() === 'pinning', 'the request to be pinning')
    await writeFile(cue, '0')
    await new Promise(resolve => setTimeout(resolve, 4500))
    expect(await status()).toBe('pinning')

    // Room again: the request runs again and its outcome is written, without a restart.
    await rm(cue)
    await until(async () => await status() === 'failed', 'the request to fail', 20_000)
  })

  it('tries to reserve event ids once a second while the disk is full, not once per event', async () => {
    const { cue } = await startFillable()
    if (server == null) throw new Error('not started')
    let warnings = 0
    server.child.stdout?.on('data', (d: Buffer) => {
      warnings += d.toString().split('\n').filter(l => l.includes('cannot reserve event ids')).length
    })
    // Ids are reserved 1,000 ahead, again once only 500 are left: at the 502nd, 1,002nd, … event. After 2,000
    // events (one each), the 2,002nd reserves, during the outage, and fails: every later event wants one.
    const body = JSON.stringify({ cid: 'bafkqaaa' })
    const post = async (): Promise<Response> => await fetch(`${server?.url}/pins`, { method: 'POST', headers, body })
    for (let i = 0; i < 20; i++) {
      for (const res of await Promise.all(Array.from({ length: 100 }, post))) expect(res.status).toBe(202)
    }
    await writeFile(cue, '0')
    const started = Date.now()
    for (let i = 0; i < 100; i++) await pin(server.url)
    await new Promise(resolve => setTimeout(resolve, 500))
    const seconds = (Date.now() - started) / 1000
    expect(warnings).toBeGreaterThan(0)
    expect(warnings).toBeLessThanOrEqual(Math.ceil(seconds) + 1)
    // Stopping while the datastore waits for room: a clean exit, not opened again behind the shutdown.
    expect(await server.stop()).toBe(0)
  })

  it('finishes a user deletion a full disk cut short when it is asked for again', async () => {
    const { url, cue } = await startFillable({ PINERY_STALL_TIMEOUT_MS: '600000' })
    const admin = async (path: string, method = 'GET', body?: unknown): Promise<Response> =>
      await fetch(`${url}${path}`, { method, headers, ...(body != null ? { body: JSON.stringify(body) } : {}) })
    expect((await admin('/users', 'POST', { name: 'bob' })).status).toBe(201)
    const token = await admin('/users/bob/tokens', 'POST', { label: 'laptop' })
    const { secret } = await token.json() as { secret: string }
    const bob = { ...headers, authorization: `Bearer ${secret}` }
    for (let i = 0; i < 20; i++) {
      const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
      const body = JSON.stringify({ cid, meta: { pad: 'x'.repeat(2000) } })
      expect((await fetch(`${url}/pins`, { method: 'POST', headers: bob, body })).status).toBe(202)
    }

    // Each fetch marks its request `pinning` (a write) a moment after it starts: not during the outage below.
    await until(async () => {
      const res = await fetch(`${url}/pins?status=pinning&limit=1`, { headers: bob })
      return (await res.json() as { count: number }).count === 20
    }, 'the requests to be pinning')

    // Room for the user's removal, not for the removal of all 20 requests.
    await writeFile(cue, '1500')
    expect((await admin('/users/bob?remove_pins=true', 'DELETE')).status).toBe(507)
    await rm(cue)
    await until(async () => (await pin(url)).status === 202, 'writes to resume')
    expect((await admin('/users/bob')).status).toBe(404) // removed: the rest of the deletion is pending

    // Asked again: the deletion is finished (not 404), and the name is free again, with nothing in it.
    const again = await admin('/users/bob?remove_pins=true', 'DELETE')
    expect(again.status).toBe(200)
    expect((await again.json() as { removedPins: number }).removedPins).toBeGreaterThan(0)
    expect((await admin('/users', 'POST', { name: 'bob' })).status).toBe(201)
    const usage = await (await admin('/users/bob')).json() as { usage: { pins: Record<string, number> } }
    expect(Object.values(usage.usage.pins).reduce((a, b) => a + b, 0)).toBe(0)
  })
})
