/**
 * A write the datastore refuses (a full disk: 507) leaves no stored request in no queue. A deletion refused
 * leaves the request as it was, queued in its place or running (old code stopped its work first: it waited with
 * no job, "queued" with no position or "saving", until the service was restarted). A pin of a DAG pinned
 * already whose `pinned` could not be written after its record was (old code: never queued, "queued" till a
 * restart) is fetched, finds its DAG and settles. A service process whose LevelDB writes run out of room on cue
 * (fixtures/disk-full.c).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { carOf } from './fixtures/content.js'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { diskFullEnv } from './fixtures/disk-full.js'
import { serverEnv, startServerProcess, type ServerProcess } from './fixtures/process.js'
import { waitFor } from './fixtures/service.js'

const TOKEN = 'pinery_refused-writes-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

describe('a write the disk refuses', () => {
  let dir: string | undefined
  let server: ServerProcess | undefined
  afterEach(async () => {
    await server?.stop()
    server = undefined
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  /** A service whose datastore runs full while `cue` exists; one worker slot, fetches that never stall. */
  async function startFillable (): Promise<{ url: string, cue: string }> {
    dir = await mkdtemp(join(tmpdir(), 'pinery-refused-writes-'))
    const dataDir = join(dir, 'data')
    const cue = join(dir, 'full')
    server = await startServerProcess({
      ...serverEnv(dataDir, TOKEN), PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000',
      ...await diskFullEnv(dataDir, cue)
    })
    return { url: server.url, cue }
  }

  /** Waits until the datastore takes writes again (the disk freed). */
  async function writable (url: string): Promise<void> {
    await waitFor(async () => {
      const res = await fetch(`${url}/pins`, { method: 'POST', headers, body: JSON.stringify({ cid: 'bafkqaaa' }) })
      return res.status === 202 ? true : undefined
    }, 10_000, 'writes to resume')
  }

  it('leaves a request whose deletion it refused queued in its place, or running', async () => {
    const { url, cue } = await startFillable()
    const pin = async (): Promise<Response> => {
      const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
      return await fetch(`${url}/pins`, { method: 'POST', headers, body: JSON.stringify({ cid }) })
    }
    const details = async (requestid: string): Promise<string> => {
      const s = await (await fetch(`${url}/pins/${requestid}`, { headers })).json() as
        { status: string, info?: { status_details?: string } }
      return s.info?.status_details ?? ''
    }
    // Nobody has these: the first holds the one slot, the second waits.
    const [running, queued] = await Promise.all([1, 2].map(async () =>
      (await (await pin()).json() as { requestid: string }).requestid)) as [string, string]
    await waitFor(async () => /looking for a peer/.test(await details(running)) ? true : undefined, 10_000,
      'the first to run')

    await writeFile(cue, '0')
    for (const requestid of [queued, running]) {
      expect((await fetch(`${url}/pins/${requestid}`, { method: 'DELETE', headers })).status).toBe(507)
    }
    await rm(cue)
    await writable(url)

    // Old code: 'queued' (in no queue) and 'saving' (no job).
    expect(await details(queued)).toBe('queue position 1 of 1')
    expect(await details(running)).toMatch(/^looking for a peer/)
  })

  it('fetches a pin of a stored DAG whose settling it refused after its record was written', async () => {
    const { url, cue } = await startFillable()
    const bytes = randomBytes(100)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const car = await fetch(`${url}/content`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/vnd.ipld.car' },
      body: await carOf([cid], [{ cid, bytes }])
    })
    expect(await car.json()).toMatchObject({ status: 'pinned' })
    // Room for some bytes: too few for the record, enough for it but not for its `pinned` after it (the record
    // holds the padding twice, `pinned` once), or enough for both. Tried from few to many.
    const meta = { pad: 'x'.repeat(3000) }
    let found: string | undefined
    for (let room = 1000; found == null; room += 1000) {
      await writeFile(cue, String(room))
      const name = `room-${room}`
      const body = JSON.stringify({ cid: cid.toString(), name, meta })
      const res = await fetch(`${url}/pins`, { method: 'POST', headers, body })
      await rm(cue)
      await writable(url)
      expect(res.status, 'no room left between the record and its pinned').not.toBe(202)
      const all = `${url}/pins?name=${name}&status=queued,pinning,pinned,failed`
      const listed = await (await fetch(all, { headers })).json() as { results: Array<{ requestid: string }> }
      found = listed.results[0]?.requestid
    }
    // Old code: 'queued' for good (no job).
    await waitFor(async () => {
      const s = await (await fetch(`${url}/pins/${found}`, { headers })).json() as { status: string }
      return s.status === 'pinned' ? true : undefined
    }, 10_000, 'the request to settle')
  })
})
