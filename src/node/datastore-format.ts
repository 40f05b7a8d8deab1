/**
 * The datastore's format version (`/pinery/format`), and the in-place
 * migrations from older ones, run at start-up before anything reads the
 * datastore. Each migration copies before it deletes and records the new
 * version (fsynced) in between, so a crash at any point resumes on the next
 * start: copies are idempotent, and deleting the old keys is retried until
 * none are left.
 *
 *   1 (no key; builds before this one): DAG pins in Helia's layout
 *     (`/pin/<base36 CIDv1>`, `/pinned-block/<base36 multihash>`).
 *   2: DAG pins in Pinery's own keys, a list of roots per pinned block
 *     (`/pinery/dag-block/<mh>` → cbor { by: [root CIDv1 bytes…] }).
 *   3: a count per pinned block and one ref key per (block, root) pair (see
 *     src/pins/dag-pins.ts): the lists made each pin cost O(roots sharing a block).
 *     Each list is converted, refs and count, in one batch, so a re-run skips the
 *     entries already holding a count and converts the rest.
 */
import * as cborg from 'cborg'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { ConfigError } from '../errors.js'
import { DAG_BLOCK_PREFIX, DAG_PREFIX, dagRefKey } from '../pins/dag-pins.js'
import type { Logger } from '../logger.js'
import type { LevelDatastore } from 'datastore-level'

/** The format this build writes. */
export const DATASTORE_FORMAT = 3

const FORMAT_KEY = '/pinery/format'
const HELIA_PIN = '/pin/'
const HELIA_BLOCK = '/pinned-block/'

/** Settings of a migration run (tests make batches small and stop one midway). */
export interface MigrationOptions {
  /** Keys written per batch. */
  batchSize?: number
  /** Called after each batch is committed. */
  afterBatch?(): void
}

/** The components a migration needs. */
export interface MigrationComponents {
  datastore: LevelDatastore
  logger: Logger
}

async function readFormat (datastore: LevelDatastore): Promise<number> {
  const value = await datastore.db.get(FORMAT_KEY)
  return value == null ? 1 : Number(new TextDecoder().decode(value))
}

/** What one entry becomes: keys to write, and keys to delete (`value: null`); none leaves it as it is. */
type Writes = Array<{ key: string, value: Uint8Array | null }>

/**
 * Rewrites every entry under `prefix` with `convert`, about `batchSize` writes at a time; returns how many
 * entries it changed. An entry's writes always go in one batch (a batch is cut only between entries), so a
 * run cut short leaves each entry either converted or not.
 */
async function rewrite (
  datastore: LevelDatastore, prefix: string, batchSize: number, options: MigrationOptions,
  convert: (key: string, value: Uint8Array) => Writes
): Promise<number> {
  let ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }> = []
  let total = 0
  // The iterator reads a snapshot: what is written behind it is not read again in this run.
  for await (const { key, value } of datastore.query({ prefix })) {
    const writes = convert(key.toString(), value)
    for (const w of writes) {
      ops.push(w.value == null ? { type: 'del', key: w.key } : { type: 'put', key: w.key, value: w.value })
    }
    if (writes.length > 0) total++
    if (ops.length >= batchSize) { await datastore.db.batch(ops); options.afterBatch?.(); ops = [] }
  }
  if (ops.length > 0) { await datastore.db.batch(ops); options.afterBatch?.() }
  return total
}

/** Format 2 → 3: each block's list of roots becomes a ref key per root and a count. */
function splitBlockList (key: string, value: Uint8Array): Writes {
  const entry = cborg.decode(value) as unknown
  if (typeof entry === 'number') return [] // converted by a run cut short
  const mh = key.slice(DAG_BLOCK_PREFIX.length)
  const roots = new Set((entry as { by: Uint8Array[] }).by.map(bytes => CID.decode(bytes).toV1().toString()))
  const refs = [...roots].map(root => ({ key: dagRefKey(mh, root), value: new Uint8Array(0) }))
  return [...refs, { key, value: roots.size === 0 ? null : cborg.encode(roots.size) }]
}

/** Brings the datastore to {@link DATASTORE_FORMAT}; refuses one written by a newer build. */
export async function migrateDatastore (
  components: MigrationComponents, options: MigrationOptions = {}
): Promise<void> {
  const { datastore } = components
  const log = components.logger.child({ component: 'migration' })
  const batchSize = options.batchSize ?? 5000
  const format = await readFormat(datastore)
  if (!Number.isInteger(format) || format > DATASTORE_FORMAT) {
    throw new ConfigError(`the data dir was written by a newer Pinery (datastore format ${format}); ` +
      `this build reads up to ${DATASTORE_FORMAT}`)
  }
  if (format < 2) {
    const pins = await rewrite(datastore, HELIA_PIN, batchSize, options, (key, value) => {
      const root = CID.parse(key.slice(HELIA_PIN.length), base36)
      const { metadata } = cborg.decode(value) as { metadata?: { dagSize?: unknown } }
      const dagSize = typeof metadata?.dagSize === 'number' ? { dagSize: metadata.dagSize } : {}
      return [{ key: `${DAG_PREFIX}${root.toV1().toString()}`, value: cborg.encode(dagSize) }]
    })
    const blocks = await rewrite(datastore, HELIA_BLOCK, batchSize, options, (key, value) => {
      const { pinnedBy } = cborg.decode(value) as { pinnedBy: Uint8Array[] }
      return [{ key: `${DAG_BLOCK_PREFIX}${key.slice(HELIA_BLOCK.length)}`, value: cborg.encode({ by: pinnedBy }) }]
    })
    // Synced: LevelDB's log is in order, so every copy above is durable with it.
    await datastore.db.put(FORMAT_KEY, new TextEncoder().encode('2'), { sync: true })
    // A new data dir has nothing to move: said at info, it read as if an old one had been found.
    log[pins + blocks > 0 ? 'info' : 'debug']({ pins, blocks },
      'moved DAG pins from Helia\'s layout to Pinery\'s own (datastore format 2)')
  }
  if (format < 3) {
    const blocks = await rewrite(datastore, DAG_BLOCK_PREFIX, batchSize, options, splitBlockList)
    await datastore.db.put(FORMAT_KEY, new TextEncoder().encode('3'), { sync: true })
    log[blocks > 0 ? 'info' : 'debug']({ blocks },
      'split the pinned blocks\' lists of roots into ref keys and counts (datastore format 3)')
  }
  // Helia's pin keys are dead from format 2 on; a crash may have left some of them.
  const drop = (key: string): Writes => [{ key, value: null }]
  const dropped = await rewrite(datastore, HELIA_PIN, batchSize, options, drop) +
    await rewrite(datastore, HELIA_BLOCK, batchSize, options, drop)
  if (dropped > 0) log.info({ dropped }, 'removed Helia\'s pin keys')
}
