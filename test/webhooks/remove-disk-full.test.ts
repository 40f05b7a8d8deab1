/**
 * Removing a webhook is two writes: the webhook, then its outbox (cursor and parked entries, each with
 * an event's body: pin names, CIDs, meta). A disk that ran full between them (fixtures/disk-full.c cuts
 * the second short) answered 507, asking again answered 404 (the webhook was gone), and the parked
 * entries stayed in LevelDB for good, reached by nothing: a deleted user's data lingering. The service's
 * start now forgets the outbox of every webhook that is gone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterAll, describe, expect, it } from 'vitest'
import { diskFullEnv } from '../fixtures/disk-full.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'

const TOKEN = 'pinery_remove-disk-full-admin'
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }
/** Bytes the disk takes once full: the webhook's removal (~130 bytes in LevelDB's log), not its outbox's. */
const ROOM = '160'

let dir: string | undefined
let server: ServerProcess | undefined
let receiver: Receiver | undefined
afterAll(async () => {
  await server?.stop()
  await receiver?.kill()
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

/** The outbox keys of webhook `id` in the stopped service's LevelDB. */
async function outboxKeys (dataDir: string, id: string): Promise<string[]> {
  const db = new Level<string, Uint8Array>(join(dataDir, 'datastore'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    const keys: string[] = []
    for (const prefix of [`/pinery/wh-out/${id}/`, `/pinery/wh-cur/${id}`]) {
      for await (const key of db.keys({ gte: prefix, lt: `${prefix}\xff` })) keys.push(key)
    }
    return keys
  } finally {
    await db.close()
  }
}

describe('removing a webhook while the disk runs full', () => {
  it('leaves none of its parked entries behind once the service has started again', async () => {
    const base = dir = await mkdtemp(join(tmpdir(), 'pinery-remove-full-'))
    receiver = await startReceiver(join(base, 'received.log'), 'fail')
    const dataDir = join(base, 'data')
    const cue = join(base, 'full')
    // No retry while the disk is full: only the removal writes.
    const env = {
      ...serverEnv(dataDir, TOKEN), PINERY_WEBHOOK_ALLOW: '127.0.0.1', PINERY_WEBHOOK_RETRY_MIN_MS: '600000'
    }
    server = await startServerProcess({
      ...env,
      ...await diskFullEnv(dataDir, cue)
    })
    const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
      await fetch(`${(server as ServerProcess).url}${path}`, {
        method, headers, ...(body != null ? { body: JSON.stringify(body) } : {})
      })
    const registered = await call('POST', '/webhooks', { url: `${receiver.url}/hook`, events: ['pin.pinned'] })
    expect(registered.status).toBe(201)
    const hook = (await registered.json() as { id: string }).id
    for (const name of ['a', 'b', 'c']) {
      expect((await call('POST', '/pins', { cid: 'bafkqaaa', name: `private-${name}` })).status).toBe(202)
    }
    // Each failed once and is parked; the attempt list and cursor writes (once a second) are done.
    for (let i = 0; i < 100; i++) {
      const attempts = await (await call('GET', `/webhooks/${hook}/deliveries`)).json() as unknown[]
      if (attempts.length >= 3) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    await new Promise(resolve => setTimeout(resolve, 2500))

    await writeFile(cue, ROOM)
    let status = (await call('DELETE', `/webhooks/${hook}`)).status
    await rm(cue)
    for (let i = 0; i < 100 && status !== 204 && status !== 404; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      status = (await call('DELETE', `/webhooks/${hook}`)).status
    }
    expect((await call('GET', `/webhooks/${hook}`)).status).toBe(404)
    expect(await server.stop()).toBe(0)

    server = await startServerProcess(env)
    expect(await server.stop()).toBe(0)
    server = undefined
    expect(await outboxKeys(dataDir, hook)).toEqual([])
  })
})
