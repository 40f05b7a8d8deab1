/**
 * Every-user streams (`?all=true`) that have caught up share one queue of frames (event-stream.ts): each must
 * still get every event once and in order, whether it was open from the start or joined later by replaying,
 * and one member that stops reading is let go with where to resume, without holding the others back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { openSse, type SseFrame, type SseStream } from '../fixtures/sse.js'

const json = { 'content-type': 'application/json' }
const ids = (frames: SseFrame[]): number[] => frames.filter(f => f.event.startsWith('pin.')).map(f => Number(f.id))
/** Strictly increasing: no event twice, none out of order. */
const increasing = (list: number[]): boolean => list.every((id, i) => i === 0 || id > (list[i - 1] as number))

describe('every-user streams in one group', () => {
  let service: TestService
  const open = async (query = '', headers: Record<string, string> = {}, options = {}): Promise<SseStream> =>
    await openSse(`${service.url}/events?all=true${query}`,
      { authorization: `Bearer ${service.tokens.admin as string}`, ...headers }, options)
  /** `n` pins (identity CIDs: pinned at once), 10 at a time; returns their request ids. */
  const pins = async (n: number, user = 'alice', meta?: object): Promise<string[]> => {
    const out: string[] = []
    for (let i = 0; i < n; i += 10) {
      out.push(...await Promise.all(Array.from({ length: Math.min(10, n - i) }, async () => {
        const body = JSON.stringify({ cid: 'bafkqaaa', ...(meta != null ? { meta } : {}) })
        const res = await service.request('/pins', { method: 'POST', user, headers: json, body })
        expect(res.status).toBe(202)
        return (await res.json() as { requestid: string }).requestid
      })))
    }
    return out
  }
  /** Waits until `s` saw the last event of each of `requests` (pinned). */
  const untilPinned = async (s: SseStream, requests: string[]): Promise<void> => {
    const want = new Set(requests)
    await s.until(fs => {
      const done = new Set(fs.filter(f => f.event === 'pin.pinned')
        .map(f => (JSON.parse(f.data) as { pin: { requestid: string } }).pin.requestid))
      return [...want].every(r => done.has(r))
    })
  }

  beforeAll(async () => {
    service = await startService({ users: ['alice', 'bob'], env: { PINERY_EVENT_STREAM_BUFFER_BYTES: '262144' } })
  })
  afterAll(async () => { await service?.destroy() })

  it('each gets every event once, in order, also one that joins later by replaying', async () => {
    const first = await Promise.all([open(), open(), open()])
    const before = [...await pins(20), ...await pins(20, 'bob')]
    for (const s of first) await untilPinned(s, before)
    const seen = ids((first[0] as SseStream).frames)
    const from = seen[Math.floor(seen.length / 2)] as number
    // Joins mid-way: replays from the log, then follows live events beside the group.
    const late = await open(`&after=${from}`)
    const after = [...await pins(20, 'bob'), ...await pins(20)]
    // A name beyond ASCII: frames are made from the log's UTF-8 bytes.
    const name = 'café ✓ 🎉 ünïcödé'
    const named = await service.request('/pins', {
      method: 'POST', user: 'alice', headers: json, body: JSON.stringify({ cid: 'bafkqaaa', name })
    })
    after.push((await named.json() as { requestid: string }).requestid)
    for (const s of [...first, late]) await untilPinned(s, after)
    for (const s of [...first, late]) {
      const names = s.frames.filter(f => f.event === 'pin.pinned')
        .map(f => (JSON.parse(f.data) as { pin: { pin: { name?: string } } }).pin.pin.name)
      expect(names).toContain(name)
    }
    const all = ids((first[0] as SseStream).frames)
    expect(increasing(all)).toBe(true)
    for (const s of first) expect(ids(s.frames)).toEqual(all)
    expect(ids(late.frames)).toEqual(all.filter(id => id > from))
    for (const s of [...first, late]) s.close()
  })

  it('a member that stops reading is let go with where to resume; the others get everything', async () => {
    // Where the streams start: after the event of a pin made first (no other events come meanwhile).
    const probe = await open()
    const [first] = await pins(1)
    await untilPinned(probe, [first as string])
    const from = ids(probe.frames).at(-1) as number
    probe.close()
    let startReading = (): void => {}
    const stalled = await open(`&after=${from}`, {}, {
      readAfter: new Promise<void>(resolve => { startReading = resolve })
    })
    const readers = await Promise.all([open(`&after=${from}`), open(`&after=${from}`)])
    // Each event ~8 KiB: 1,600 of them overflow the loopback socket's buffers and then the 256 KiB one.
    const meta = { a: 'x'.repeat(4000), b: 'x'.repeat(4000) }
    const requests = await pins(800, 'alice', meta)
    // Every event since `from`, replayed from the log once all are in.
    const reference = await open(`&after=${from}`)
    await untilPinned(reference, requests)
    const whole = ids(reference.frames)
    reference.close()
    /** What a client following from `s` on gets, reconnecting after each disconnect as it is told to. */
    const follow = async (s: SseStream): Promise<number[]> => {
      const got: number[] = []
      for (let stream = s; ;) {
        await stream.until(fs => ids(fs).at(-1) === whole.at(-1) || fs.at(-1)?.event === 'disconnect')
        got.push(...ids(stream.frames))
        const last = stream.frames.at(-1)
        stream.close()
        if (last?.event !== 'disconnect') return got
        const info = JSON.parse(last.data) as { reason: string, last_event_id: string }
        expect(info.reason).toMatch(/did not keep up/)
        // The last event a disconnected stream names is the last one it was sent.
        expect(Number(info.last_event_id)).toBe(got.at(-1) ?? from)
        stream = await open('', { 'last-event-id': info.last_event_id })
      }
    }
    // A reader slowed by this machine's load may be let go too; followed, each gets every event once, in order.
    for (const s of readers) expect(await follow(s)).toEqual(whole)
    startReading()
    await stalled.ended
    expect(stalled.frames.at(-1)?.event).toBe('disconnect')
    expect(ids(stalled.frames).length).toBeLessThan(whole.length)
    expect(await follow(stalled)).toEqual(whole)
  }, 90_000)
})
