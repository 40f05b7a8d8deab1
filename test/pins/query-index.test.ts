/**
 * The in-memory pin index against a straightforward filter over the same
 * records, through inserts, status changes, mass deletes (compaction) and
 * out-of-order loading.
 */
import { describe, expect, it } from 'vitest'
import { createPinIndex } from '../../src/pins/query-index.js'
import { PIN_STATES, type PinQuery, type PinRecord } from '../../src/pins/types.js'

function record (i: number, owner = 'alice'): PinRecord {
  return {
    requestid: `id-${i}`,
    owner,
    created: 1_000_000 + i * 10,
    status: PIN_STATES[i % 4] as PinRecord['status'],
    cidKey: `cid-${i % 7}`,
    pin: { cid: `cid-${i % 7}`, name: `File-${i % 13}`, meta: { app: `a${i % 3}` } }
  }
}

function expected (records: PinRecord[], q: PinQuery, cidKeys?: Set<string>): { count: number, requestids: string[] } {
  const hits = records
    .filter(r => q.statuses.includes(r.status))
    .filter(r => q.before == null || r.created < q.before)
    .filter(r => q.after == null || r.created > q.after)
    .filter(r => cidKeys == null || cidKeys.has(r.cidKey))
    .filter(r => q.name == null || (r.pin.name ?? '').toLowerCase().includes(q.name.toLowerCase()))
    .filter(r => q.meta == null || Object.entries(q.meta).every(([k, v]) => r.pin.meta?.[k] === v))
    .sort((a, b) => b.created - a.created)
  return { count: hits.length, requestids: hits.slice(0, q.limit).map(r => r.requestid) }
}

const queries: Array<[PinQuery, Set<string>?]> = [
  [{ statuses: ['pinned'], match: 'exact', limit: 10 }],
  [{ statuses: ['queued', 'pinning'], match: 'exact', limit: 25 }],
  [{ statuses: [...PIN_STATES], match: 'ipartial', name: 'file-1', limit: 5 }],
  [{ statuses: [...PIN_STATES], match: 'exact', meta: { app: 'a2' }, limit: 7, before: 1_000_000 + 20_000 }],
  [{ statuses: ['pinned', 'failed'], match: 'exact', limit: 3, after: 1_000_000 + 5_000, before: 1_000_000 + 25_000 }],
  [{ statuses: [...PIN_STATES], match: 'exact', limit: 4 }, new Set(['cid-3', 'cid-5'])]
]

describe('pin index', () => {
  it('answers like a plain filter through inserts, status changes and mass deletes', () => {
    const index = createPinIndex()
    let live = Array.from({ length: 3000 }, (_, i) => record(i))
    for (const r of live) index.put(r)
    index.put(record(0, 'bob'))
    // Status changes.
    live = live.map(r => r.created % 3 === 0 ? { ...r, status: 'failed' } : r)
    for (const r of live) index.put(r)
    // Delete two thirds: enough to trigger compaction.
    const removed = live.filter((_, i) => i % 3 !== 1)
    for (const r of removed) index.remove(r)
    live = live.filter((_, i) => i % 3 === 1)
    expect(index.size()).toBe(live.length + 1)
    for (const [q, cids] of queries) expect(index.query('alice', q, cids)).toEqual(expected(live, q, cids))
    expect(index.query('carol', queries[0]![0]).count).toBe(0)
  })

  it('matches every request with an empty meta filter, those without meta too', () => {
    // ?meta={} names no key to match: it left out every request that had no meta.
    const index = createPinIndex()
    const bare = { ...record(1), pin: { cid: 'cid-bare' } }
    index.put(record(0))
    index.put(bare)
    const q: PinQuery = { statuses: [...PIN_STATES], match: 'exact', meta: {}, limit: 10 }
    expect(index.query('alice', q).count).toBe(2)
  })

  it('matches names by their NFC form, each match strategy, ASCII or not', () => {
    const index = createPinIndex()
    const names = ['cafe\u0301', 'caf\u00e9', '\u212aelvin', 'Kelvin', 'CAFE\u0301 au lait', 'cafe']
    names.forEach((name, i) => { index.put({ ...record(i), status: 'pinned', pin: { cid: 'c', name } }) })
    const find = (name: string, match: PinQuery['match']): string[] => index
      .query('alice', { statuses: ['pinned'], match, name, limit: 10 }).requestids
      .map(id => names[Number(id.slice(3))] as string).sort()
    expect(find('caf\u00e9', 'exact')).toEqual(['cafe\u0301', 'caf\u00e9'].sort())
    expect(find('cafe\u0301', 'exact')).toEqual(['cafe\u0301', 'caf\u00e9'].sort())
    // The Kelvin sign's NFC form is K: an ASCII name of the same length.
    expect(find('Kelvin', 'exact')).toEqual(['\u212aelvin', 'Kelvin'].sort())
    expect(find('caf\u00e9', 'iexact')).toEqual(['cafe\u0301', 'caf\u00e9'].sort())
    expect(find('\u00e9 au', 'ipartial')).toEqual(['CAFE\u0301 au lait'])
    // "cafe" is not part of "café", however it is encoded.
    expect(find('cafe', 'partial')).toEqual(['cafe'])
  })

  it('orders records that arrive out of order', () => {
    const index = createPinIndex()
    const records = Array.from({ length: 200 }, (_, i) => record(i))
    for (const r of [...records].reverse()) index.put(r)
    for (const [q, cids] of queries) expect(index.query('alice', q, cids)).toEqual(expected(records, q, cids))
  })

  it('releases names, meta values and CIDs no record uses: create/delete cycles do not grow memory', () => {
    const index = createPinIndex()
    const base = Array.from({ length: 300 }, (_, i) => record(i))
    for (const r of base) index.put(r)
    const start = index.stats()
    expect(start).toEqual({ cids: 7, names: 13, metas: 3, owners: 1 })
    let created = 10_000_000
    for (let cycle = 0; cycle < 50; cycle++) {
      const batch: PinRecord[] = Array.from({ length: 200 }, (_, i) => {
        const n = `${cycle}-${i}`
        return {
          requestid: `c-${n}`,
          owner: i % 2 === 0 ? 'alice' : `user-${n}`,
          created: created++,
          status: 'queued',
          cidKey: `cid-${n}`,
          pin: { cid: `cid-${n}`, name: `name-${n}`, meta: { k: n } }
        }
      })
      for (const r of batch) index.put(r)
      // Some settle pinned, some are replaced by a request holding the old CID until it settles.
      for (const r of batch.slice(0, 50)) index.put({ ...r, status: 'pinned', dagSize: 10 })
      const replacements = batch.slice(0, 20).map(r => ({
        ...r,
        requestid: `${r.requestid}-next`,
        created: created++,
        cidKey: `${r.cidKey}-next`,
        pin: { cid: `${r.cidKey}-next` },
        holds: [r.cidKey]
      }))
      for (const r of replacements) index.put(r)
      for (const r of batch.slice(0, 20)) index.remove({ ...r, status: 'pinned' })
      expect(index.chargeOf('alice', 'cid-' + `${cycle}-0`)).toEqual({ refs: 1, size: 10 })
      for (const r of batch.slice(20)) index.remove(r)
      for (const r of replacements) index.put({ ...r, status: 'failed' })
      for (const r of replacements) index.remove(r)
    }
    expect(index.stats()).toEqual(start)
    expect(index.usage('alice').bytes).toBe(0)
    // Queries over the records left stay exact, and new values intern again.
    for (const [q, cids] of queries) expect(index.query('alice', q, cids)).toEqual(expected(base, q, cids))
    index.put(record(5000))
    const byName: PinQuery = { statuses: [...PIN_STATES], match: 'exact', name: 'File-8', limit: 1000 }
    expect(index.query('alice', byName, undefined).count).toBe(expected([...base, record(5000)], byName).count)
  })
})
