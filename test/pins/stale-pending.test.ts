/**
 * Stale entries in the pending range, as a build from before queuedAt leaves them in a data dir this build wrote
 * (it deletes and writes `pending/<created>/<id>`, not the entry at the place a replacement took over), or as
 * any other orphan: the service's start deletes an entry whose record is gone or settled and moves one that is
 * not at its record's place there, never losing a pending request. Old code resumed each such entry at every
 * start, forever (its job found the record settled when its turn came). Keys written into a real data dir
 * before a real service opens it.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatastore } from '../../src/node/storage.js'
import { statusLine } from '../fixtures/pins-api.js'
import { startService, type TestService } from '../fixtures/service.js'

const ONE_SLOT = { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000' }
const PENDING = '/pinery/pending/'
const pad = (n: number): string => n.toString().padStart(15, '0')
const encoder = new TextEncoder()
const decoder = new TextDecoder()
let service: TestService | undefined
afterEach(async () => { await service?.destroy(); service = undefined })

interface Stored { requestid: string, owner: string, created: number, status: string, queuedAt?: number }

async function pin (svc: TestService, path = '/pins', cid?: string): Promise<string> {
  cid ??= CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
  const res = await svc.call('POST', path, 'alice', { cid })
  expect(res.status).toBe(202)
  return (await res.json() as { requestid: string }).requestid
}

/** Runs `work` on the data dir's LevelDB (the service stopped). */
async function onDb<T> (dataDir: string, work: (db: Awaited<ReturnType<typeof openDatastore>>['db']) => Promise<T>):
Promise<T> {
  const datastore = await openDatastore(dataDir)
  try {
    return await work(datastore.db)
  } finally {
    await datastore.close()
  }
}

describe('stale pending entries', () => {
  it('are deleted or moved to their record\'s place at start, and no pending request is lost', async () => {
    service = await startService({ users: ['alice'], env: ONE_SLOT })
    const running = await pin(service)
    const [q, r] = [await pin(service), await pin(service)]
    // Replacements of queued pins: their records carry the place they took over (queuedAt).
    const q2 = await pin(service, `/pins/${q}`)
    const r2 = await pin(service, `/pins/${r}`)
    const settled = await pin(service, '/pins', 'bafkqaaa') // an identity CID: pinned at once
    expect(await statusLine(service, settled)).toBe('pinned: ')
    const { dataDir } = service
    await service.stop()

    const stale = await onDb(dataDir, async (db) => {
      const read = async (id: string): Promise<Stored> =>
        JSON.parse(decoder.decode(await db.get(decoder.decode(await db.get(`/pinery/req/${id}`))))) as Stored
      const [rq, rr, rs] = [await read(q2), await read(r2), await read(settled)]
      expect(rq.queuedAt).toBeLessThan(rq.created)
      const copy = (record: Stored, patch: Partial<Stored> = {}): Uint8Array =>
        encoder.encode(JSON.stringify({ ...record, ...patch }))
      const keys = {
        // An older build's pending/<created>/<id> for a record whose place is its queuedAt.
        duplicate: `${PENDING}${pad(rq.created)}/${q2}`,
        // The same, with the entry at the record's place gone: the only entry, at the wrong place.
        misplaced: `${PENDING}${pad(rr.created)}/${r2}`,
        // The entry this build wrote at a place taken over, left when an older build settled the request.
        settled: `${PENDING}${pad(rs.created - 5)}/${settled}`,
        // A request deleted by an older build.
        gone: `${PENDING}${pad(1)}/${'0'.repeat(8)}-aaaa-4aaa-8aaa-${'0'.repeat(12)}`
      }
      await db.batch([
        { type: 'put', key: keys.duplicate, value: copy(rq, { status: 'pinning' }) },
        { type: 'del', key: `${PENDING}${pad(rr.queuedAt as number)}/${r2}` },
        { type: 'put', key: keys.misplaced, value: copy(rr) },
        { type: 'put', key: keys.settled, value: copy(rs, { status: 'queued', queuedAt: rs.created - 5 }) },
        { type: 'put', key: keys.gone, value: copy(rs, { requestid: keys.gone.slice(-36), created: 1 }) }
      ])
      return { keys, places: [rq.queuedAt, rr.queuedAt] as number[] }
    })

    service = await startService({ dataDir, users: ['alice'], env: ONE_SLOT })
    const svc = service
    expect(await statusLine(svc, running)).not.toMatch(/queue position/)
    expect(await Promise.all([q2, r2].map(async id => (await statusLine(svc, id)).replace(/^\w+: /, '')))).toEqual([
      'queue position 1 of 2', 'queue position 2 of 2'
    ])
    expect(await statusLine(svc, settled)).toBe('pinned: ')
    await service.stop()

    // Old code: all four stale keys still there (and resumed at every start).
    const range = await onDb(dataDir, async (db) => {
      const all: string[] = []
      for await (const key of db.keys({ gt: PENDING, lt: `${PENDING}\xff` })) all.push(key)
      return all
    })
    expect(range.slice(1)).toEqual([
      `${PENDING}${pad(stale.places[0] as number)}/${q2}`, `${PENDING}${pad(stale.places[1] as number)}/${r2}`
    ])
    expect(range[0]).toMatch(new RegExp(`/${running}$`))
  })
})
