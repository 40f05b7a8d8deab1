/**
 * An owner's `PATCH {"enabled":false}` answered 200 must stay: the webhook store computed each update from
 * the webhook in memory when called and stored it later, so the outbox's own bookkeeping (clearing
 * `failingSince` after a delivery succeeded), computed while the owner's write waited for its fsync, was
 * stored after it and enabled the webhook again, on disk and in memory. A slow fsync
 * (fixtures/slow-sync.c) makes the wait long enough to show; each update now applies its changes to the
 * webhook as the last write left it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { slowSyncEnv } from '../fixtures/slow-sync.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'

const TOKEN = 'pinery_disable-race-admin'
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }

let dir: string | undefined
let server: ServerProcess | undefined
let receiver: Receiver | undefined
afterAll(async () => {
  await server?.stop()
  await receiver?.kill()
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('disabling a webhook while a delivery to it succeeds', () => {
  it('keeps it disabled', async () => {
    const base = dir = await mkdtemp(join(tmpdir(), 'pinery-disable-race-'))
    const rx = receiver = await startReceiver(join(base, 'received.log'), 'fail')
    const cue = join(base, 'slow')
    const env = {
      ...serverEnv(join(base, 'data'), TOKEN), PINERY_WEBHOOK_ALLOW: '127.0.0.1', PINERY_WEBHOOK_RETRY_MIN_MS: '4000'
    }
    server = await startServerProcess({ ...env, ...await slowSyncEnv(cue) })
    const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
      await fetch(`${(server as ServerProcess).url}${path}`, {
        method, headers, ...(body != null ? { body: JSON.stringify(body) } : {})
      })
    const registered = await call('POST', '/webhooks', { url: `${rx.url}/hook`, events: ['pin.pinned'] })
    const hook = (await registered.json() as { id: string }).id
    expect((await call('POST', '/pins', { cid: 'bafkqaaa', name: 'retried' })).status).toBe(202)
    // The first attempt fails (failingSince is stored); the retry comes 2–4 s later and succeeds.
    for (let i = 0; i < 100; i++) {
      if ((await (await call('GET', `/webhooks/${hook}`)).json() as { failing_since?: string }).failing_since != null) {
        break
      }
      await sleep(50)
    }
    // A second event waits in memory (not parked) for the retry: its success clears failingSince at once.
    expect((await call('POST', '/pins', { cid: 'bafkqaaa', name: 'fresh' })).status).toBe(202)
    await rx.setMode('ok')
    // The owner's write waits 5 s for its fsync: the retry succeeds meanwhile.
    await writeFile(cue, '5000')
    const disabled = await call('PATCH', `/webhooks/${hook}`, { enabled: false })
    expect(disabled.status).toBe(200)
    expect(await disabled.json()).toMatchObject({ enabled: false })
    await rm(cue)
    // The outbox's bookkeeping write, if it waited behind the owner's, lands within one more slow fsync.
    await sleep(6000)
    expect((await rx.received()).some(r => r.body.includes('fresh'))).toBe(true)
    expect(await (await call('GET', `/webhooks/${hook}`)).json()).toMatchObject({ enabled: false })
    expect(await server.stop()).toBe(0)
    server = await startServerProcess(env)
    expect(await (await call('GET', `/webhooks/${hook}`)).json()).toMatchObject({ enabled: false })
  })
})
