/**
 * GET /pins: the other filters (cid, name, before/after, meta), ordering, limit, count and paging.
 * Part of the conformance tests with the IPFS Pinning Service API v1.0.0; what they share and how they
 * pin is in test/fixtures/pins-api.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TextMatchingStrategy } from '@ipfs-shipyard/pinning-service-client'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64 } from 'multiformats/bases/base64'
import { startService, type TestService } from '../fixtures/service.js'
import {
  ALL_STATUSES, instantCid, addPin, listPins, ids, withOffset, type WirePinStatus
} from '../fixtures/pins-api.js'

describe('GET /pins filters and paging', () => {
  // Every test lists as its own user so counts are exact and tests independent.
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({
      users: ['alice', 'bob', 'limits', 'cids', 'names', 'meta', 'times', 'pages', 'pages-client']
    })
  })
  afterAll(async () => { await svc?.destroy() })

  it('limit defaults to 10, accepts up to 1000, and count is the total, not the page size', async () => {
    const created: WirePinStatus[] = []
    for (let i = 0; i < 12; i++) created.push(await addPin(svc, 'limits', { cid: instantCid().toString() }))
    const newestFirst = created.map(s => s.requestid).reverse()

    const byDefault = await listPins(svc, 'limits')
    expect(ids(byDefault)).toEqual(newestFirst.slice(0, 10))
    expect(byDefault.count).toBe(12)
    expect(ids(await svc.client('limits').pinsGet())).toEqual(newestFirst.slice(0, 10))

    for (const limit of [1, 3, 12, 13, 1000]) {
      const page = await listPins(svc, 'limits', { limit: String(limit) })
      expect(ids(page), `limit=${limit}`).toEqual(newestFirst.slice(0, limit))
      expect(page.count, `limit=${limit}`).toBe(12)
    }
    expect((await svc.client('limits').pinsGet({ limit: 1000 })).results).toHaveLength(12)
  })

  it('filters by cid: exact strings, comma lists up to 10', async () => {
    const x = instantCid()
    const y = instantCid()
    const xB32 = await addPin(svc, 'cids', { cid: x.toString() })
    const xB32again = await addPin(svc, 'cids', { cid: x.toString() })
    const xB36 = await addPin(svc, 'cids', { cid: x.toString(base36) })
    const xB64 = await addPin(svc, 'cids', { cid: x.toString(base64) })
    const yB58 = await addPin(svc, 'cids', { cid: y.toString(base58btc) })
    await addPin(svc, 'cids', { cid: instantCid().toString() }) // unrelated
    const xPins = [xB32, xB32again, xB36, xB64].map(s => s.requestid)

    // Every pin created with exactly the queried string is found; a pin of the
    // same CID in another multibase may be found too, nothing else may.
    const check = async (cids: string[], exact: WirePinStatus[], allowed: string[]): Promise<void> => {
      const page = await listPins(svc, 'cids', { cid: cids.join(',') })
      for (const s of exact) expect(ids(page), cids.join(',')).toContain(s.requestid)
      for (const id of ids(page)) expect(allowed).toContain(id)
      expect(page.count).toBe(page.results.length)
      const viaClient = await svc.client('cids').pinsGet({ cid: cids })
      expect(ids(viaClient)).toEqual(ids(page))
    }
    await check([x.toString()], [xB32, xB32again], xPins)
    await check([x.toString(base36)], [xB36], xPins)
    await check([x.toString(base64)], [xB64], xPins)
    await check([y.toString(base58btc)], [yB58], [yB58.requestid])
    await check([x.toString(), y.toString(base58btc)], [xB32, xB32again, yB58], [...xPins, yB58.requestid])

    // 10 CIDs is allowed; CIDs nobody pinned match nothing.
    const ten = [y.toString(base58btc), ...Array.from({ length: 9 }, () => instantCid().toString())]
    const page = await listPins(svc, 'cids', { cid: ten.join(',') })
    expect(ids(page)).toEqual([yB58.requestid])
    expect(page.count).toBe(1)
    expect(await listPins(svc, 'cids', { cid: instantCid().toString() })).toStrictEqual({ count: 0, results: [] })
  })

  describe('name with each match strategy', () => {
    const NAMES = ['Holiday Photos', 'holiday photos', 'Holiday Photos 2023', 'Work notes', 'Q&A + 100% / done?']
    const byName = new Map<string, string>()
    beforeAll(async () => {
      for (const name of NAMES) {
        byName.set(name, (await addPin(svc, 'names', { cid: instantCid().toString(), name })).requestid)
      }
      await addPin(svc, 'names', { cid: instantCid().toString() }) // unnamed: never matches a name filter
    })

    it.each([
      { match: undefined, name: 'Holiday Photos', want: ['Holiday Photos'] },
      { match: 'exact', name: 'Holiday Photos', want: ['Holiday Photos'] },
      { match: 'exact', name: 'holiday', want: [] },
      { match: 'exact', name: 'Q&A + 100% / done?', want: ['Q&A + 100% / done?'] },
      { match: 'iexact', name: 'HOLIDAY photos', want: ['Holiday Photos', 'holiday photos'] },
      { match: 'iexact', name: 'holiday', want: [] },
      { match: 'partial', name: 'Photos', want: ['Holiday Photos', 'Holiday Photos 2023'] },
      { match: 'partial', name: 'photos', want: ['holiday photos'] },
      { match: 'partial', name: '100% /', want: ['Q&A + 100% / done?'] },
      { match: 'ipartial', name: 'PHOTOS', want: ['Holiday Photos', 'holiday photos', 'Holiday Photos 2023'] },
      { match: 'ipartial', name: 'o', want: NAMES }
    ] as Array<{ match: TextMatchingStrategy | undefined, name: string, want: string[] }>)(
      'name=$name match=$match', async ({ match, name, want }) => {
        const expected = want.map(n => byName.get(n)).reverse() // newest first
        const page = await listPins(svc, 'names', { name, ...(match != null ? { match } : {}) })
        expect(ids(page)).toEqual(expected)
        expect(page.count).toBe(expected.length)
        const viaClient = await svc.client('names').pinsGet({ name, ...(match != null ? { match } : {}) })
        expect(ids(viaClient)).toEqual(expected)
      })
  })

  describe('meta (AND of key/value pairs)', () => {
    const PROTO_META = JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>
    const pins: Record<string, string> = {}
    beforeAll(async () => {
      const add = async (key: string, meta?: Record<string, string>): Promise<void> => {
        const pin = { cid: instantCid().toString(), ...(meta != null ? { meta } : {}) }
        pins[key] = (await addPin(svc, 'meta', pin)).requestid
      }
      await add('a-prod', { app: 'a', env: 'prod' })
      await add('a-dev', { app: 'a', env: 'dev' })
      await add('b-prod', { app: 'b', env: 'prod' })
      await add('a-prod-extra', { app: 'a', env: 'prod', extra: 'x' })
      await add('special', { 'key & [brackets]': 'välue / 100% = "quoted"' })
      await add('js-keys', PROTO_META)
      await add('none')
    })

    it.each([
      { meta: { app: 'a' }, want: ['a-prod', 'a-dev', 'a-prod-extra'] },
      { meta: { app: 'a', env: 'prod' }, want: ['a-prod', 'a-prod-extra'] },
      { meta: { env: 'prod', app: 'b' }, want: ['b-prod'] },
      { meta: { app: 'a', env: 'prod', extra: 'x' }, want: ['a-prod-extra'] },
      { meta: { app: 'c' }, want: [] },
      { meta: { app: 'A' }, want: [] },
      { meta: { 'key & [brackets]': 'välue / 100% = "quoted"' }, want: ['special'] },
      // Keys JavaScript treats specially are plain keys here; none of them matches everything.
      { meta: JSON.parse('{"__proto__":"x"}') as Record<string, string>, want: ['js-keys'] },
      { meta: JSON.parse('{"__proto__":"other"}') as Record<string, string>, want: [] },
      { meta: { constructor: 'y' }, want: ['js-keys'] },
      { meta: { toString: 'y' }, want: [] }
    ])('meta=$meta', async ({ meta, want }) => {
      const expected = want.map(k => pins[k]).reverse()
      // The spec's wire form: a URL-escaped JSON object.
      const page = await listPins(svc, 'meta', `meta=${encodeURIComponent(JSON.stringify(meta))}`)
      expect(ids(page)).toEqual(expected)
      expect(page.count).toBe(expected.length)
      // The official client sends meta[key]=value pairs instead.
      const viaClient = await svc.client('meta').pinsGet({ meta })
      expect(ids(viaClient)).toEqual(expected)
      expect(viaClient.count).toBe(expected.length)
    })

    it('accepts the example from the spec verbatim', async () => {
      const id = (await addPin(svc, 'meta', { cid: instantCid().toString(), meta: { app_id: 'UUID' } })).requestid
      const page = await listPins(svc, 'meta', 'meta=%7B%22app_id%22%3A%22UUID%22%7D')
      expect(ids(page)).toEqual([id])
    })
  })

  it('before and after are exclusive bounds, in any RFC 3339 form', async () => {
    const [a, b, c] = [
      await addPin(svc, 'times', { cid: instantCid().toString() }),
      await addPin(svc, 'times', { cid: instantCid().toString() }),
      await addPin(svc, 'times', { cid: instantCid().toString() })
    ] as [WirePinStatus, WirePinStatus, WirePinStatus]
    const expectIds = async (query: Record<string, string>, want: WirePinStatus[]): Promise<void> => {
      const page = await listPins(svc, 'times', query)
      expect(ids(page), JSON.stringify(query)).toEqual(want.map(s => s.requestid))
      expect(page.count, JSON.stringify(query)).toBe(want.length)
    }
    await expectIds({ before: b.created }, [a])
    await expectIds({ after: b.created }, [c])
    await expectIds({ after: a.created, before: c.created }, [b])
    await expectIds({ before: a.created }, [])
    await expectIds({ after: c.created }, [])
    await expectIds({ after: c.created, before: a.created }, [])
    // The same instant written with an offset.
    await expectIds({ before: withOffset(b.created, 120) }, [a])
    await expectIds({ after: withOffset(b.created, -330) }, [c])
    // Sub-millisecond precision: b (at .xxx000) is before .xxx4 and not after it.
    const bPlus = b.created.replace('Z', '4Z')
    await expectIds({ before: bPlus }, [b, a])
    await expectIds({ after: bPlus }, [c])
    // The official client sends Dates as toISOString().
    const client = svc.client('times')
    expect(ids(await client.pinsGet({ before: new Date(b.created) }))).toEqual([a.requestid])
    expect(ids(await client.pinsGet({ after: new Date(b.created) }))).toEqual([c.requestid])
  })

  // boxo's Ls loop, as kubo runs it: `count` is the total for all filters
  // (before included), so it stops when a page holds all of them.
  it('pages like kubo (limit=10, before=created of the last result) over 27 pins', async () => {
    const created: WirePinStatus[] = []
    for (let i = 0; i < 27; i++) {
      created.push(await addPin(svc, 'pages', { cid: instantCid().toString(), name: `p${i}` }))
    }
    // created is strictly increasing in creation order: paging by it needs unique values.
    for (let i = 1; i < created.length; i++) {
      expect(Date.parse((created[i] as WirePinStatus).created))
        .toBeGreaterThan(Date.parse((created[i - 1] as WirePinStatus).created))
    }

    const seen: string[] = []
    const pages: Array<{ count: number, size: number }> = []
    let before: string | undefined
    for (let guard = 0; ; guard++) {
      expect(guard, 'paging did not end').toBeLessThan(10)
      const page = await listPins(svc, 'pages',
        { limit: '10', status: 'pinned', ...(before != null ? { before } : {}) })
      pages.push({ count: page.count, size: page.results.length })
      seen.push(...ids(page))
      if (page.count === page.results.length) break
      // kubo treats count > 0 with no results as an error.
      expect(page.results.length, 'count > 0 but no results').toBeGreaterThan(0)
      before = page.results[page.results.length - 1]?.created
    }
    expect(pages).toEqual([{ count: 27, size: 10 }, { count: 17, size: 10 }, { count: 7, size: 7 }])
    expect(seen).toEqual(created.map(s => s.requestid).reverse())
  })

  it('pages through the official client the same way', async () => {
    const created: string[] = []
    for (let i = 0; i < 25; i++) {
      created.push((await svc.client('pages-client').pinsPost({ pin: { cid: instantCid().toString() } })).requestid)
    }
    const client = svc.client('pages-client')
    const seen: string[] = []
    const counts: number[] = []
    let before: Date | undefined
    for (let guard = 0; ; guard++) {
      expect(guard, 'paging did not end').toBeLessThan(10)
      const page = await client.pinsGet({ limit: 10, ...(before != null ? { before } : {}) })
      counts.push(page.count)
      seen.push(...ids(page))
      if (page.count === page.results.length) break
      expect(page.results.length, 'count > 0 but no results').toBeGreaterThan(0)
      before = page.results[page.results.length - 1]?.created
    }
    expect(counts).toEqual([25, 15, 5])
    expect(seen).toEqual([...created].reverse())
  })

  it("another user's pins are never listed or counted, whatever the filters", async () => {
    const cid = instantCid().toString()
    const pin = { cid, name: 'shared-name', meta: { team: 'x' } }
    const mine = await addPin(svc, 'alice', pin)
    const theirs = await addPin(svc, 'bob', pin)
    const queries: Array<Record<string, string>> = [
      {},
      { status: ALL_STATUSES, limit: '1000' },
      { cid },
      { name: 'shared-name' },
      { name: 'SHARED', match: 'ipartial' },
      { meta: JSON.stringify({ team: 'x' }) },
      { after: '2000-01-01T00:00:00Z' }
    ]
    for (const [user, own, other] of [['alice', mine, theirs], ['bob', theirs, mine]] as const) {
      for (const q of queries) {
        const page = await listPins(svc, user, q)
        expect(ids(page), `${user} ${JSON.stringify(q)}`).toContain(own.requestid)
        expect(ids(page), `${user} ${JSON.stringify(q)}`).not.toContain(other.requestid)
        expect(page.count).toBe(page.results.length)
      }
      expect((await listPins(svc, user, { cid })).count).toBe(1)
    }
  })
})
