/**
 * A request that was `pinning` when the service stopped resumes without a new
 * event: the progress events of its fetch after the restart come only if the
 * progress ticker learns of it from what the worker resumed.
 */
import * as dagPb from '@ipld/dag-pb'
import toBuffer from 'it-to-buffer'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, type TestService } from '../fixtures/service.js'
import { openSse, type SseFrame } from '../fixtures/sse.js'

interface Ev { id: string, type: string, pin: { requestid: string } }
const events = (frames: SseFrame[]): Ev[] =>
  frames.filter(f => f.event.startsWith('pin.')).map(f => JSON.parse(f.data) as Ev)

describe('a request resumed while pinning', () => {
  let origin: Origin
  let svc: TestService | undefined
  beforeAll(async () => { origin = await startOrigin() })
  afterAll(async () => { await origin?.stop() })
  afterEach(async () => { await svc?.destroy(); svc = undefined })

  it('gets progress events after the restart', async () => {
    const { cid } = await origin.addRandomFile(2)
    // The origin lacks the last leaf: the fetch gets the rest, then waits.
    const root = dagPb.decode(await toBuffer(origin.blockstore.get(cid)))
    await origin.blockstore.delete(root.Links.at(-1)?.Hash as typeof cid)
    svc = await startService({ users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '600000' } })
    const auth = (): Record<string, string> => ({ authorization: `Bearer ${svc?.tokens.alice as string}` })
    let stream = await openSse(`${svc.url}/events`, auth())
    const res = await svc.request('/pins', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: cid.toString(), origins: origin.addrs })
    })
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    const mine = (frames: SseFrame[]): Ev[] => events(frames).filter(e => e.pin.requestid === requestid)
    await stream.until(fs => mine(fs).some(e => e.type === 'pin.pinning'), 20_000)
    const last = mine(stream.frames).at(-1) as Ev
    stream.close()

    const dataDir = svc.dataDir
    await svc.stop()
    svc = await startService({ dataDir, users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '2500' } })
    stream = await openSse(`${svc.url}/events?after=${last.id}`, auth())
    await stream.until(fs => mine(fs).some(e => e.type === 'pin.failed'), 20_000)
    const after = mine(stream.frames).map(e => e.type)
    // No new pinning event (it was pinning already), progress while it fetched, then the stall.
    expect(after).not.toContain('pin.pinning')
    expect(after).toContain('pin.progress')
    expect(after.at(-1)).toBe('pin.failed')
    stream.close()
  }, 60_000)
})
