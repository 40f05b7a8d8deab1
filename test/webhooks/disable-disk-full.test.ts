/**
 * A disabled webhook's waiting entries wait for it to be enabled again, also across a restart (outbox.ts):
 * disabling parks them. The webhook and the parking were two writes, and a disk that ran full between them
 * (fixtures/disk-full.c cuts the second short) stored the webhook disabled with its waiting entries only in
 * memory, below the cursor. The next start read them from the log as events of a disabled webhook, which
 * it wants none of, and moved the cursor past them: once enabled again, it never got them. A webhook now
 * remembers the last event published before it was disabled, and still wants the events up to it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { diskFullEnv } from '../fixtures/disk-full.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'

const TOKEN = 'pinery_disable-disk-full-admin'
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }
/** Bytes the disk takes once full: the disabled webhook (~550 bytes in LevelDB's log), not the parking after it. */
const ROOM = '800'

let dir: string | undefined
let server: ServerProcess | undefined
let receiver: Receiver | undefined
afterAll(async () => {
  await server?.stop()
  await receiver?.kill()
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('disabling a webhook while the disk runs full', () => {
  it('keeps the events that waited for it until it is enabled again, across a restart', async () => {
    const base = dir = await mkdtemp(join(tmpdir(), 'pinery-disable-full-'))
    const rx = receiver = await startReceiver(join(base, 'received.log'), 'fail')
    const dataDir = join(base, 'data')
    const cue = join(base, 'full')
    // After the first failure the webhook pauses for minutes: later events wait in memory, not parked.
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
    const pin = async (name: string): Promise<void> => {
      expect((await call('POST', '/pins', { cid: 'bafkqaaa', name })).status).toBe(202)
    }
    const registered = await call('POST', '/webhooks', { url: `${rx.url}/hook`, events: ['pin.pinned'] })
    expect(registered.status).toBe(201)
    const hook = (await registered.json() as { id: string }).id
    await pin('first-fails')
    for (let i = 0; i < 100; i++) {
      const { count } = await (await call('GET', `/webhooks/${hook}/deliveries`)).json() as { count: number }
      if (count > 0) break
      await sleep(100)
    }
    await pin('waits-1')
    await pin('waits-2')
    expect(await (await call('GET', `/webhooks/${hook}`)).json()).toMatchObject({ pending: '3' })
    // The attempt list and the cursor are written (once a second) before the disk runs full.
    await sleep(2500)

    await writeFile(cue, ROOM)
    await call('PATCH', `/webhooks/${hook}`, { enabled: false })
    await rm(cue)
    await sleep(500)
    expect(await server.stop()).toBe(0)

    server = await startServerProcess(env)
    let shown = await (await call('GET', `/webhooks/${hook}`)).json() as { enabled: boolean }
    if (shown.enabled) {
      // The disabling was not stored: as the owner would, ask again.
      expect((await call('PATCH', `/webhooks/${hook}`, { enabled: false })).status).toBe(200)
      shown = await (await call('GET', `/webhooks/${hook}`)).json() as { enabled: boolean }
    }
    expect(shown.enabled).toBe(false)
    await sleep(1500)
    await rx.setMode('ok')
    expect((await call('PATCH', `/webhooks/${hook}`, { enabled: true })).status).toBe(200)
    const got = async (name: string): Promise<boolean> => (await rx.received()).some(r => r.body.includes(name))
    for (let i = 0; i < 100 && !(await got('waits-1') && await got('waits-2')); i++) await sleep(100)
    expect({ first: await got('first-fails'), one: await got('waits-1'), two: await got('waits-2') })
      .toEqual({ first: true, one: true, two: true })
  })
})
