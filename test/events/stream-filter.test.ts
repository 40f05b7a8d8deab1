/**
 * GET /events narrowed: `?requestid=` follows some requests (and the requests that replace them), `?types=`
 * keeps some event types; a CI job waits for its pin on one stream instead of following every event of its
 * user or polling GET /pins/{requestid}. Real service, real Helia origin, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instantCid, missingCid } from '../fixtures/pins-api.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, type TestService } from '../fixtures/service.js'
import { openSse, type SseFrame, type SseStream } from '../fixtures/sse.js'

interface Ev { type: string, user: string, replaced_by?: string, pin: { requestid: string, status: string } }
const events = (frames: SseFrame[]): Ev[] =>
  frames.filter(f => f.event.startsWith('pin.')).map(f => JSON.parse(f.data) as Ev)
const json = { 'content-type': 'application/json' }

describe('GET /events?requestid=…&types=…', () => {
  let service: TestService
  let origin: Origin
  const open = async (user: string, query: string): Promise<SseStream> =>
    await openSse(`${service.url}/events${query}`, { authorization: `Bearer ${service.tokens[user] as string}` })
  const post = async (user: string, path: string, body: object): Promise<string> => {
    const res = await service.request(path, { method: 'POST', user, headers: json, body: JSON.stringify(body) })
    expect(res.status, await res.clone().text()).toBe(202)
    return (await res.json() as { requestid: string }).requestid
  }
  const nowhere = async (): Promise<string> => (await missingCid()).toString()

  beforeAll(async () => {
    origin = await startOrigin()
    service = await startService({ users: ['alice', 'bob'] })
  })
  afterAll(async () => {
    await service?.destroy()
    await origin?.stop()
  })

  it('follows one request through its replacement to pinned, and nothing else of its user', async () => {
    const waiting = await post('alice', '/pins', { cid: await nowhere(), name: 'build 41' })
    const stream = await open('alice', `?requestid=${waiting}`)
    const pinnedOnly = await open('alice', '?types=pin.pinned')
    expect(stream.status).toBe(200)
    // Other pins of alice and bob meanwhile: not for this stream.
    const other = await post('alice', '/pins', { cid: instantCid().toString(), name: 'other' })
    await post('bob', '/pins', { cid: instantCid().toString() })
    // Restarted with an origin that has it (the page's Restart is a replace).
    const { cid } = await origin.addRandomFile(2)
    const replacement = await post('alice', `/pins/${waiting}`,
      { cid: cid.toString(), name: 'build 41', origins: origin.addrs })
    await stream.until(frames => events(frames).some(e => e.type === 'pin.pinned'))
    const seen = events(stream.frames)
    // The waiting request may have been marked pinning first; then its replacement, then only the new request's.
    const at = seen.findIndex(e => e.type === 'pin.replaced')
    expect(seen[at]).toMatchObject({ replaced_by: replacement, pin: { requestid: waiting } })
    expect(seen.slice(0, at).map(e => [e.type, e.pin.requestid])).toEqual(at === 0 ? [] : [['pin.pinning', waiting]])
    expect(seen.slice(at + 1).every(e => e.pin.requestid === replacement), JSON.stringify(seen)).toBe(true)
    expect(seen.map(e => e.type)).toContain('pin.queued')
    expect(seen.at(-1)?.pin.status).toBe('pinned')
    // The types filter: alice's pinned events only (the other pin, then the replacement), no queued ones.
    await pinnedOnly.until(frames => events(frames).length >= 2)
    expect(events(pinnedOnly.frames).map(e => [e.type, e.pin.requestid]))
      .toEqual([['pin.pinned', other], ['pin.pinned', replacement]])
    stream.close()
    pinnedOnly.close()
  })

  it('an admin following another user\'s request sees that request only', async () => {
    const bobs = await post('bob', '/pins', { cid: await nowhere() })
    const stream = await open('admin', `?all=true&requestid=${bobs}&types=pin.deleted`)
    const everything = await open('admin', '?all=true')
    await post('alice', '/pins', { cid: instantCid().toString() })
    await post('bob', '/pins', { cid: instantCid().toString() })
    expect((await service.request(`/pins/${bobs}`, { method: 'DELETE', user: 'bob' })).status).toBe(202)
    // The unfiltered admin stream sees all three; the filtered one only the deletion.
    await everything.until(frames => events(frames).some(e => e.type === 'pin.deleted'))
    await stream.until(frames => events(frames).length >= 1)
    await new Promise(resolve => setTimeout(resolve, 300)) // a flush later: nothing else arrives
    expect(events(stream.frames).map(e => [e.type, e.user, e.pin.requestid]))
      .toEqual([['pin.deleted', 'bob', bobs]])
    expect(events(everything.frames).length).toBeGreaterThanOrEqual(3)
    stream.close()
    everything.close()
  })

  it('refuses a bad filter with 400 and the Failure body naming it', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `r${i}`).join(',')
    for (const [query, field] of [['?types=pin.nope', /types/], ['?types=', /types/], ['?requestid=', /requestid/],
      [`?requestid=${eleven}`, /at most 10/], ['?requestid=a%20b', /requestid/]] as const) {
      const res = await service.request(`/events${query}`, { user: 'alice' })
      const text = await res.text()
      expect(res.status, `${query}: ${text}`).toBe(400)
      expect(JSON.parse(text))
        .toMatchObject({ error: { reason: 'BAD_REQUEST', details: expect.stringMatching(field) } })
    }
  })
})
