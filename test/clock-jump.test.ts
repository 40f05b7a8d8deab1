/**
 * A wall clock set back holds neither webhook retries nor re-wants back.
 * Pinery runs as a child process with a preloaded library
 * (fixtures/clock-jump.c) that moves its wall clock on cue, an hour back:
 * a failed delivery is still retried within its backoff, and a fetch still
 * asks again for the blocks it waits for, not an hour later.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { fileCidOf, startOrigin, type Origin } from './fixtures/origin.js'
import { preloadLibrary } from './fixtures/power-cut.js'
import { serverEnv, startServerProcess, type ServerProcess } from './fixtures/process.js'
import { startReceiver, type Receiver } from './fixtures/receiver.js'
import { waitFor } from './fixtures/service.js'

const TOKEN = 'pinery_clock-jump-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
const SOURCE = fileURLToPath(new URL('./fixtures/clock-jump.c', import.meta.url))

describe('wall clock set back an hour', () => {
  let dir: string | undefined
  let server: ServerProcess | undefined
  let receiver: Receiver | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await server?.stop()
    await receiver?.kill()
    await origin?.stop()
    server = receiver = origin = undefined
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('retries a failed webhook delivery within its backoff after the clock goes back an hour', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-clock-jump-'))
    const offset = join(dir, 'offset')
    await writeFile(offset, '0')
    receiver = await startReceiver(join(dir, 'received.jsonl'), 'fail')
    server = await startServerProcess({
      ...serverEnv(join(dir, 'data'), TOKEN),
      PINERY_WEBHOOK_ALLOW: '127.0.0.1',
      PINERY_WEBHOOK_RETRY_MIN_MS: '1000',
      // Well below the hour the clock goes back (the default is exactly an hour).
      PINERY_WEBHOOK_RETRY_MAX_MS: '60000',
      LD_PRELOAD: await preloadLibrary(SOURCE),
      PINERY_CLOCK_OFFSET: offset
    })
    const hook = await fetch(`${server.url}/webhooks`, {
      method: 'POST', headers, body: JSON.stringify({ url: receiver.url, events: ['pin.queued', 'pin.pinned'] })
    })
    expect(hook.status).toBe(201)
    const body = JSON.stringify({ cid: 'bafkqaaa' })
    const pin = await fetch(`${server.url}/pins`, { method: 'POST', headers, body })
    expect(pin.status).toBe(202)
    const rx = receiver
    await waitFor(async () => (await rx.received()).length > 0 ? true : undefined, 10_000, 'the first attempt')

    // Parked for ~1 s by the wall clock; then the clock goes back an hour and the receiver recovers.
    await writeFile(offset, String(-3600_000))
    await rx.setMode('ok')
    const delivered = await waitFor(async () => (await rx.received()).find(r => r.answer === 200), 15_000,
      'the retry after the clock went back')
    expect(delivered.path).toBe('/hook')
  })

  it('keeps asking again for blocks a fetch waits for after the clock goes back an hour', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-clock-jump-'))
    const offset = join(dir, 'offset')
    await writeFile(offset, '0')
    origin = await startOrigin()
    server = await startServerProcess({
      ...serverEnv(join(dir, 'data'), TOKEN),
      PINERY_STALL_TIMEOUT_MS: '600000',
      PINERY_REWANT_AFTER_MS: '200',
      LD_PRELOAD: await preloadLibrary(SOURCE),
      PINERY_CLOCK_OFFSET: offset
    })
    const url = server.url
    // Asked for before the origin has it; only a want sent again after the origin got it brings it.
    const bytes = new Uint8Array(300 * 1024).fill(7)
    const cid = (await fileCidOf(bytes)).toString()
    const body = JSON.stringify({ cid, origins: origin.addrs })
    const res = await fetch(`${url}/pins`, { method: 'POST', headers, body })
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    const status = async (): Promise<string> =>
      ((await (await fetch(`${url}/pins/${requestid}`, { headers })).json()) as { status: string }).status
    await waitFor(async () => await status() === 'pinning' ? true : undefined, 10_000, 'the request to be pinning')

    await writeFile(offset, String(-3600_000))
    await new Promise(resolve => setTimeout(resolve, 300))
    await origin.addFile(bytes)
    await waitFor(async () => await status() === 'pinned' ? true : undefined, 15_000, 'the request to be pinned')
  })
})
