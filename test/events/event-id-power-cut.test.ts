/**
 * Event ids are never handed out twice, even across a power cut. Some events
 * are written without an fsync (`pin.pinning`, `pin.progress`) yet streamed and
 * delivered at once; a power cut drops them, and the next start used to give
 * their ids to new, different events, which a client resuming with
 * Last-Event-ID, or a webhook receiver deduplicating on Pinery-Event-Id as the
 * README asks, then skipped as seen.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { powerCutCases } from '../fixtures/power-cut.js'
import { serverEnv } from '../fixtures/process.js'
import { openSse, type SseFrame } from '../fixtures/sse.js'

const TOKEN = 'pinery_event-id-power-cut-admin'
const headers = { authorization: `Bearer ${TOKEN}` }

describe('event ids across a power cut', () => {
  const cases = powerCutCases('pinery-event-ids-')
  afterEach(cases.cleanup)

  const pin = async (url: string, cid: string): Promise<string> => {
    const res = await fetch(`${url}/pins`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ cid })
    })
    expect(res.status).toBe(202)
    return (await res.json() as { requestid: string }).requestid
  }

  it('never gives the id of an event seen before the cut to another event', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    const env = { ...serverEnv(dataDir, TOKEN), PINERY_STALL_TIMEOUT_MS: '600000' }
    let server = await start({ ...env, ...power.env })
    const before = await openSse(`${server.url}/events`, headers)
    // Nobody has this DAG: the request goes queued (fsynced), then pinning (not fsynced) and stays so.
    const nobody = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
    const waiting = await pin(server.url, nobody)
    await before.until(frames => frames.some(f => f.event === 'pin.pinning'))
    const seen = new Map(before.frames.map(f => [f.id as string, f]))
    before.close()
    await kill()
    expect((await power.cut()).droppedBytes).toBeGreaterThan(0)

    server = await start(env)
    const later = await pin(server.url, 'bafkqaaa') // settles pinned at once: an event of its own
    const after = await openSse(`${server.url}/events`, { ...headers, 'last-event-id': '0' })
    await after.until(frames => frames.some(f => f.data.includes(later)))
    after.close()
    const reused = after.frames.filter((f: SseFrame) =>
      seen.has(f.id as string) && seen.get(f.id as string)?.data !== f.data)
    expect(reused.map(f => `${f.id} ${f.event}`)).toEqual([])
    // The cut had teeth: the pinning event itself is gone from the log.
    expect(after.frames.some(f => f.event === 'pin.pinning' && f.data.includes(waiting) &&
      seen.get(f.id as string)?.data === f.data)).toBe(false)
  }, 120_000)
})
