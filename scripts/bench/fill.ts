/**
 * Fills a data dir with pin records for bench:api: N records spread over 10
 * users (mixed status, names, meta, shared CIDs), a token per user, and the
 * exact answers the benchmark's queries must return for user0.
 *
 *   node --import tsx scripts/bench/fill.ts --dir DIR [--records 1000000]
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createTokenStore, createUserStore } from '../../src/auth/index.js'
import { openDatastore, syncDatastore } from '../../src/node/storage.js'
import { canonicalCidKey } from '../../src/pins/request-pins.js'
import { createRecordStore } from '../../src/pins/record-store.js'
import type { PinRecord, PinState } from '../../src/pins/types.js'

const { values } = parseArgs({ options: { dir: { type: 'string' }, records: { type: 'string', default: '1000000' } } })
const dir = values.dir as string
const total = Number(values.records)
const USERS = 10
const APPS = ['photos', 'docs', 'site', 'backup', 'ci']
const WORDS = ['report', 'invoice', 'photo', 'build', 'notes', 'video', 'dataset', 'slides']
const CIDS = Math.max(1, Math.floor(total / 20)) // each CID named by ~20 requests

/** The queries bench:api runs for user0, with the answers a correct service gives. */
export interface Expected { token: string, queries: Array<{ name: string, path: string, count: number }> }

function status (i: number): PinState {
  const r = i % 20
  return r === 0 ? 'queued' : r === 1 ? 'pinning' : r === 2 ? 'failed' : 'pinned'
}

const datastore = await openDatastore(dir)
const records = await createRecordStore({ db: datastore.db })
const cids: string[] = []
for (let i = 0; i < CIDS; i++) {
  cids.push(CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`block ${i}`))).toString())
}

const user0: PinRecord[] = []
const BATCH = 5000
for (let start = 0; start < total; start += BATCH) {
  const batch: PinRecord[] = []
  for (let i = start; i < Math.min(total, start + BATCH); i++) {
    const j = Math.floor(i / USERS) // the user's own sequence: names and meta vary within each user
    const cid = cids[(i * 7919) % CIDS] as string
    const r: PinRecord = {
      requestid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      owner: `user${i % USERS}`,
      created: records.nextCreated(),
      status: status(j),
      cidKey: canonicalCidKey(CID.parse(cid)),
      pin: {
        cid,
        name: `${WORDS[j % WORDS.length] as string}-${j % 1000}.pdf`,
        meta: { app: APPS[j % APPS.length] as string, team: `t${j % 7}` }
      }
    }
    if (r.status === 'pinned') r.dagSize = 1024
    if (r.status === 'failed') r.failure = 'no progress for 120000 ms'
    batch.push(r)
    if (r.owner === 'user0') user0.push(r)
  }
  await records.importMany(batch)
  if (start % 100_000 === 0) process.stderr.write(`filled ${start} / ${total}\n`)
}

const users = createUserStore({ datastore, sync: syncDatastore(datastore) })
const tokens = createTokenStore({ datastore, users, sync: syncDatastore(datastore) })
for (let u = 0; u < USERS; u++) await users.ensure(`user${u}`, 'member')
const token = (await tokens.create('user0', { label: 'bench' })).secret
for (let u = 1; u < USERS; u++) await tokens.create(`user${u}`, { label: 'bench' })
await datastore.close()

// Exact answers, computed by plain filtering of what was written.
const newest = [...user0].sort((a, b) => b.created - a.created)
const count = (f: (r: PinRecord) => boolean): number => newest.filter(f).length
const deep = newest.filter(r => r.status === 'pinned')[Math.floor(newest.length * 0.8 * 0.85)] as PinRecord
const oneCid = (newest[0] as PinRecord).pin.cid
const expected: Expected = {
  token,
  queries: [
    { name: 'no filter (pinned)', path: '/pins', count: count(r => r.status === 'pinned') },
    {
      name: 'status=queued,pinning',
      path: '/pins?status=queued,pinning',
      count: count(r => r.status === 'queued' || r.status === 'pinning')
    },
    {
      name: 'one cid, any status',
      path: `/pins?cid=${oneCid}&status=queued,pinning,pinned,failed`,
      count: count(r => r.pin.cid === oneCid)
    },
    {
      name: 'name ipartial',
      path: '/pins?name=REPORT-42&match=ipartial',
      count: count(r => r.status === 'pinned' && (r.pin.name ?? '').toLowerCase().includes('report-42'))
    },
    {
      name: 'meta filter',
      path: `/pins?meta=${encodeURIComponent(JSON.stringify({ app: 'docs' }))}`,
      count: count(r => r.status === 'pinned' && r.pin.meta?.app === 'docs')
    },
    {
      name: 'deep page (before)',
      path: `/pins?before=${new Date(deep.created).toISOString()}`,
      count: count(r => r.status === 'pinned' && r.created < deep.created)
    }
  ]
}
await writeFile(join(dir, 'bench-expected.json'), JSON.stringify(expected, null, 2))
process.stderr.write(`filled ${total} records\n`)
