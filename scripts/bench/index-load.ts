/**
 * The pin index alone, in this process, on a filled data dir (see fill.ts):
 * how long loading it takes (rebuilt from every record, or from the snapshot
 * a clean close writes) and the live memory it holds once loaded (after a
 * full GC, the index kept alive: V8 heap plus typed arrays), next to the
 * process before it was loaded. Isolates the index from what else a
 * starting node does (the worker resuming pending requests, LevelDB's
 * mmapped files counted in RSS).
 *
 * DIR should be a copy: a clean close is simulated on it (writing
 * index.snapshot and the records' generation key) before the snapshot runs.
 *
 *   node --expose-gc --import tsx scripts/bench/index-load.ts --dir DIR [--runs 3]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createLogger } from '../../src/logger.js'
import { openDatastore } from '../../src/node/storage.js'
import { createIndexSnapshot } from '../../src/pins/query-index-snapshot.js'
import { createPinIndex, type PinIndex } from '../../src/pins/query-index.js'
import { createRecordStore } from '../../src/pins/record-store.js'
import { MiB, median, table } from './lib.js'

const { values } = parseArgs({ options: { dir: { type: 'string' }, runs: { type: 'string', default: '3' } } })
const dir = values.dir as string
const gc = (globalThis as { gc?: () => void }).gc
if (gc == null) throw new Error('run with --expose-gc')

/**
 * Live memory after a full GC: the V8 heap plus typed arrays' backing stores
 * (RSS would keep what earlier runs freed).
 */
async function live (): Promise<number> {
  gc?.()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

const snapshotFile = createIndexSnapshot({ path: join(dir, 'index.snapshot') },
  { logger: createLogger({ level: 'warn' }) })

/** Loads the index once, with or without the snapshot; keeps it alive until measured. */
async function load (useSnapshot: boolean): Promise<{ seconds: number, held: number, index: PinIndex }> {
  const datastore = await openDatastore(dir)
  const before = await live()
  const index = createPinIndex()
  const t = performance.now()
  await createRecordStore({ db: datastore.db, index, ...(useSnapshot ? { snapshot: snapshotFile } : {}) })
  const seconds = (performance.now() - t) / 1000
  const held = await live() - before
  await datastore.close()
  return { seconds, held, index }
}

/** A clean close: the snapshot of the records as they are. */
async function closeCleanly (): Promise<void> {
  const datastore = await openDatastore(dir)
  const records = await createRecordStore({ db: datastore.db, index: createPinIndex(), snapshot: snapshotFile })
  await records.close()
  await datastore.close()
}

const rows: Array<Array<string | number>> = []
for (const snapshot of [false, true]) {
  if (snapshot) await closeCleanly()
  const runs: Array<{ seconds: number, held: number }> = []
  for (let i = 0; i < Number(values.runs); i++) {
    const { seconds, held, index } = await load(snapshot)
    runs.push({ seconds, held })
    const what = `${seconds.toFixed(2)} s, ${(held / MiB).toFixed(0)} MiB, ${index.size()} records`
    process.stderr.write(`${snapshot ? 'snapshot' : 'rebuild'}: ${what}\n`)
  }
  rows.push([snapshot ? 'from the snapshot' : 'rebuilt from the records', median(runs.map(r => r.seconds)).toFixed(2),
    runs.map(r => r.seconds.toFixed(2)).join(' / '), (median(runs.map(r => r.held)) / MiB).toFixed(0)])
}
process.stdout.write(table(['index load', 's (median)', 'each run', 'live MiB held (heap + arrays)'], rows) + '\n')
