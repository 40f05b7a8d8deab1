/**
 * A deletion the datastore refuses (a full disk: 507) leaves the request as it was, queued in its place or
 * running. Old code stopped its work first: the request, still stored and still counted as pending, waited with
 * no job ("queued", no position; a running one "saving") until the service was restarted. A service process
 * whose LevelDB writes run out of room on cue (fixtures/disk-full.c).
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
import { waitFor } from './fixtures/service.js'

const TOKEN = 'pinery_delete-refused-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

describe('a deletion the disk refuses', () => {
  let dir: string | undefined
  let server: ServerProcess | undefined
  afterEach(async () => {
    await server?.stop()
    server = undefined
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('leaves the request queued in its place, or running', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-delete-refused-'))
    const dataDir = join(dir, 'data')
    const cue = join(dir, 'full')
    server = await startServerProcess({
      ...serverEnv(dataDir, TOKEN), PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000',
      ...await diskFullEnv(dataDir, cue)
    })
    const url = server.url
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
    await waitFor(async () => (await pin()).status === 202 ? true : undefined, 10_000, 'writes to resume')

    // Old code: 'queued' (in no queue) and 'saving' (no job).
    expect(await details(queued)).toBe('queue position 1 of 2')
    expect(await details(running)).toMatch(/^looking for a peer/)
  })
})
