/**
 * GET /events: each user sees their own requests' events (an admin may ask
 * for all), streams resume after Last-Event-ID or ?after= without gaps, an id
 * older than the log's window answers 410, heartbeats flow, and a client that
 * stops reading is disconnected with a final event naming where to resume.
 */
import * as dagPb from '@ipld/dag-pb'
import toBuffer from 'it-to-buffer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { openSse, type SseFrame, type SseStream } from '../fixtures/sse.js'

const json = { 'content-type': 'application/json' }
interface Ev {
  id: string
  type: string
  user: string
  time: string
  reason?: string
  progress?: { blocks: number, bytes: number }
  replaced_by?: string
  pin: { requestid: string, status: string, info: Record<string, string>, pin: { cid: string } }
}
const parse = (frames: SseFrame[]): Ev[] =>
  frames.filter(f => f.event.startsWith('pin.')).map(f => JSON.parse(f.data) as Ev)

describe('GET /events', () => {
  let service: TestService
  let origin: Origin
  const auth = (user: string): Record<string, string> => ({ authorization: `Bearer ${service.tokens[user] as string}` })
  const pin = async (user: string, body: object): Promise<string> => {
    const res = await service.request('/pins', { method: 'POST', user, headers: json, body: JSON.stringify(body) })
    expect(res.status).toBe(202)
    return (await res.json() as { requestid: string }).requestid
  }
  const open = async (
    user: string, query = '', headers: Record<string, string> = {}, options = {}
  ): Promise<SseStream> =>
    await openSse(`${service.url}/events${query}`, { ...auth(user), ...headers }, options)

  beforeAll(async () => {
    origin = await startOrigin()
    service = await startService({
      users: ['alice', 'bob'],
      env: {
        PINERY_EVENT_HEARTBEAT_MS: '100', PINERY_STALL_TIMEOUT_MS: '2500', PINERY_EVENT_STREAM_BUFFER_BYTES: '16384'
      }
    })
  })
  afterAll(async () => {
    await service?.destroy()
    await origin?.stop()
  })

  it('streams each user their own events, an admin everyone\'s, with the request\'s PinStatus', async () => {
    const alice = await open('alice')
    const bob = await open('bob')
    const all = await open('admin', '?all=true')
    const own = await open('admin')
    expect([alice.status, bob.status, all.status, own.status]).toEqual([200, 200, 200, 200])
    const file = await origin.addFile(new Uint8Array(3 * 1024 * 1024).fill(7))
    const fetched = await pin('alice', { cid: file.toString(), origins: origin.addrs, name: 'big' })
    const missing = await pin('alice', { cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' })
    const bobs = await pin('bob', { cid: 'bafkqaaa' })
    await alice.until(fs =>
      parse(fs).some(e => e.pin.requestid === missing && e.type === 'pin.failed') &&
      parse(fs).some(e => e.pin.requestid === fetched && e.type === 'pin.pinned'))
    await all.until(fs => parse(fs).some(e => e.pin.requestid === bobs))
    const events = parse(alice.frames)
    expect(events.every(e => e.user === 'alice')).toBe(true)
    const ids = events.map(e => Number(e.id))
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(ids.length)
    expect(alice.frames.filter(f => f.event.startsWith('pin.')).every(f => JSON.parse(f.data).id === f.id)).toBe(true)
    const ofFetched = events.filter(e => e.pin.requestid === fetched).map(e => e.type)
    expect(ofFetched[0]).toBe('pin.queued')
    expect(ofFetched.at(-1)).toBe('pin.pinned')
    const pinned = events.find(e => e.pin.requestid === fetched && e.type === 'pin.pinned') as Ev
    const current = await (await service.request(`/pins/${fetched}`, { user: 'alice' })).json()
    expect(pinned.pin).toEqual(current)
    const failed = events.find(e => e.pin.requestid === missing && e.type === 'pin.failed') as Ev
    expect(failed.reason).toMatch(/no progress/)
    expect(failed.pin.info.status_details).toBe(failed.reason)
    for (const e of events.filter(e => e.type === 'pin.progress')) expect(e.progress?.bytes).toBeGreaterThan(0)
    expect(Number.isNaN(Date.parse(pinned.time))).toBe(false)
    // Bob sees only his; the admin's own stream has none of theirs; ?all=true has both.
    await bob.until(fs => parse(fs).length > 0)
    expect(parse(bob.frames).map(e => e.pin.requestid)).toEqual([bobs])
    expect(parse(all.frames).map(e => e.user)).toEqual(expect.arrayContaining(['alice', 'bob']))
    expect(parse(own.frames)).toEqual([])
    // Heartbeats keep the stream alive.
    expect(alice.comments).toBeGreaterThan(1)
    for (const s of [alice, bob, all, own]) s.close()
  }, 60_000)

  it('reports progress of a fetch at most once a second, then its failure', async () => {
    const { cid } = await origin.addRandomFile(2)
    // The origin loses the last leaf: the fetch gets everything else, then stalls.
    const root = dagPb.decode(await toBuffer(origin.blockstore.get(cid)))
    await origin.blockstore.delete(root.Links.at(-1)?.Hash as typeof cid)
    const stream = await open('alice')
    const id = await pin('alice', { cid: cid.toString(), origins: origin.addrs })
    await stream.until(fs => parse(fs).some(e => e.pin.requestid === id && e.type === 'pin.failed'), 20_000)
    const mine = parse(stream.frames).filter(e => e.pin.requestid === id)
    const progress = mine.filter(e => e.type === 'pin.progress')
    expect(progress.length).toBeGreaterThan(0)
    const first = progress[0] as Ev
    // How far the fetch got by the first tick depends on the machine's load; that it counts does not.
    expect(first.progress?.blocks).toBeGreaterThan(0)
    expect(first.progress?.bytes).toBeGreaterThan(0)
    expect(first.pin.info.status_details).toMatch(new RegExp(`^fetched ${first.progress?.blocks ?? 0} blocks?, ` +
      `${first.progress?.bytes ?? 0} bytes$`))
    // Nothing new arrived after the stall began: no repeated progress event for the same bytes.
    expect(new Set(progress.map(e => e.progress?.bytes)).size).toBe(progress.length)
    for (let i = 1; i < progress.length; i++) {
      expect(Date.parse((progress[i] as Ev).time) - Date.parse((progress[i - 1] as Ev).time))
        .toBeGreaterThanOrEqual(900)
    }
    expect(mine.map(e => e.type).at(-1)).toBe('pin.failed')
    stream.close()
  }, 30_000)

  it('needs pins:read, and admin for all=true', async () => {
    const res = await service.request('/tokens', {
      method: 'POST', user: 'alice', headers: json, body: JSON.stringify({ scope: 'pins:add' })
    })
    const addOnly = (await res.json() as { secret: string }).secret
    expect((await fetch(`${service.url}/events`, { headers: { authorization: `Bearer ${addOnly}` } })).status).toBe(403)
    const forbidden = await service.request('/events?all=true', { user: 'alice' })
    expect(forbidden.status).toBe(403)
    expect(await forbidden.json()).toMatchObject({ error: { reason: 'FORBIDDEN' } })
    expect((await service.request('/events?after=abc', { user: 'alice' })).status).toBe(400)
    // Given twice: refused, rather than ignored (which streamed from now on, silently skipping the gap).
    const twice = await service.request('/events?after=1&after=2', { user: 'alice' })
    await twice.body?.cancel()
    expect(twice.status).toBe(400)
    expect((await fetch(`${service.url}/events`)).status).toBe(401)
  })

  it('resumes after Last-Event-ID or ?after= with no gap and no repeat', async () => {
    const first = await open('alice', '?after=0')
    const a = await pin('alice', { cid: 'bafkqaaa' })
    await first.until(fs => parse(fs).some(e => e.pin.requestid === a))
    first.close()
    const seen = parse(first.frames)
    const lastId = (seen.at(-1) as Ev).id
    const later = [
      await pin('alice', { cid: 'bafkqaaa' }),
      await pin('bob', { cid: 'bafkqaaa' }),
      await pin('alice', { cid: 'bafkqaaa' })
    ]
    const byHeader = await open('alice', '', { 'last-event-id': lastId })
    const byQuery = await open('alice', `?after=${lastId}`)
    for (const s of [byHeader, byQuery]) {
      await s.until(fs => parse(fs).some(e => e.pin.requestid === later[2]))
      expect(parse(s.frames).map(e => e.pin.requestid)).toEqual([later[0], later[2]])
      expect(Number((parse(s.frames)[0] as Ev).id)).toBeGreaterThan(Number(lastId))
      s.close()
    }
    // From the start: everything Alice ever saw, in order.
    const replay = await open('alice', '?after=0')
    await replay.until(fs => parse(fs).some(e => e.pin.requestid === later[2]))
    const ids = parse(replay.frames).map(e => e.id)
    expect(ids.slice(0, seen.length)).toEqual(seen.map(e => e.id))
    replay.close()
  })

  it('disconnects a client that does not read, with a last event saying where to resume', async () => {
    // A buffer that holds a few of the large events below (the shared service's holds less than one).
    const own = await startService({ users: ['alice'], env: { PINERY_EVENT_STREAM_BUFFER_BYTES: '65536' } })
    const headers = { authorization: `Bearer ${own.tokens.alice as string}` }
    const open = async (
      _user: string, query: string, extra: Record<string, string> = {}, options = {}
    ): Promise<SseStream> =>
      await openSse(`${own.url}/events${query}`, { ...headers, ...extra }, options)
    const pin = async (_user: string, body: object): Promise<string> => {
      const res = await own.request('/pins', {
        method: 'POST', user: 'alice', headers: json, body: JSON.stringify(body)
      })
      expect(res.status).toBe(202)
      return (await res.json() as { requestid: string }).requestid
    }
    let startReading = (): void => {}
    const stalled = await open('alice', '', {}, { readAfter: new Promise<void>(resolve => { startReading = resolve }) })
    // As large as meta may be (values ≤ 4096 characters, ≤ 16 KiB in all), so each event is big.
    const meta = { a: 'x'.repeat(4000), b: 'x'.repeat(4000), c: 'x'.repeat(4000), d: 'x'.repeat(4000) }
    const ids: string[] = []
    // In batches (order kept by their created times), well within the disconnect's grace period.
    for (let i = 0; i < 500; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, async () =>
        await pin('alice', { cid: 'bafkqaaa', meta })))
      ids.push(...batch)
    }
    startReading()
    await stalled.ended
    const last = stalled.frames.at(-1)
    expect(last?.event).toBe('disconnect')
    const info = JSON.parse(last?.data ?? '{}') as { reason: string, last_event_id: string }
    expect(info.reason).toMatch(/did not keep up/)
    const got = parse(stalled.frames)
    expect(got.length).toBeLessThan(ids.length)
    expect(info.last_event_id).toBe((got.at(-1) as Ev).id)
    // Resuming from there delivers the rest.
    const resumed = await open('alice', '', { 'last-event-id': info.last_event_id })
    const seen = (): string[] => [...got, ...parse(resumed.frames)].map(e => e.pin.requestid)
    await resumed.until(() => seen().length >= ids.length)
    // Every event once: nothing lost at the cut, nothing repeated after it.
    expect(seen().sort()).toEqual([...ids].sort())
    resumed.close()
    await own.destroy()
  }, 60_000)
})

describe('GET /events window', () => {
  it('answers 410 for an id the log no longer holds', async () => {
    const service = await startService({ env: { PINERY_EVENT_LOG_MAX_EVENTS: '100' } })
    try {
      for (let i = 0; i < 250; i++) {
        await service.request('/pins', { method: 'POST', headers: json, body: JSON.stringify({ cid: 'bafkqaaa' }) })
      }
      const gone = await waitFor(async () => {
        const res = await service.request('/events?after=1')
        return res.status === 410 ? res : undefined
      }, 10_000, 'the log pruned')
      expect(await gone.json()).toMatchObject({ error: { reason: 'GONE' } })
      expect((await service.request('/events', { headers: { 'last-event-id': '99999' } })).status).toBe(410)
      const recent = await openSse(`${service.url}/events?after=240`, {
        authorization: 'Bearer pinery_test-admin-token'
      })
      await recent.until(fs => fs.length === 10)
      expect(recent.frames.map(f => f.id)).toEqual(Array.from({ length: 10 }, (_, i) => String(241 + i)))
      recent.close()
    } finally {
      await service.destroy()
    }
  }, 60_000)
})
