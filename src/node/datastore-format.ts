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
 *   2: DAG pins in Pinery's own keys (see src/pins/dag-pins.ts).
 */
import * as cborg from 'cborg'
import { Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { ConfigError } from '../errors.js'
import { DAG_BLOCK_PREFIX, DAG_PREFIX } from '../pins/dag-pins.js'
import type { Logger } from '../logger.js'
import type { LevelDatastore } from 'datastore-level'

/** The format this build writes. */
export const DATASTORE_FORMAT = 2

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

/** Rewrites every entry under `prefix` with `convert`, `batchSize` at a time; returns how many. */
async function rewrite (
  datastore: LevelDatastore, prefix: string, batchSize: number, options: MigrationOptions,
  convert: (key: string, value: Uint8Array) => { key: string, value: Uint8Array } | null
): Promise<number> {
  let batch = datastore.batch()
  let pending = 0
  let total = 0
  for await (const { key, value } of datastore.query({ prefix })) {
    const next = convert(key.toString(), value)
    if (next == null) batch.delete(key)
    else batch.put(new Key(next.key), next.value)
    pending++
    total++
    if (pending >= batchSize) { await batch.commit(); options.afterBatch?.(); batch = datastore.batch(); pending = 0 }
  }
  if (pending > 0) { await batch.commit(); options.afterBatch?.() }
  return total
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
      return { key: `${DAG_PREFIX}${root.toV1().toString()}`, value: cborg.encode(dagSize) }
    })
    const blocks = await rewrite(datastore, HELIA_BLOCK, batchSize, options, (key, value) => {
      const { pinnedBy } = cborg.decode(value) as { pinnedBy: Uint8Array[] }
      return { key: `${DAG_BLOCK_PREFIX}${key.slice(HELIA_BLOCK.length)}`, value: cborg.encode({ by: pinnedBy }) }
    })
    // Synced: LevelDB's log is in order, so every copy above is durable with it.
    await datastore.db.put(FORMAT_KEY, new TextEncoder().encode('2'), { sync: true })
    log.info({ pins, blocks }, 'moved DAG pins from Helia\'s layout to Pinery\'s own (datastore format 2)')
  }
  // Helia's pin keys are dead from format 2 on; a crash may have left some of them.
  const dropped = await rewrite(datastore, HELIA_PIN, batchSize, options, () => null) +
    await rewrite(datastore, HELIA_BLOCK, batchSize, options, () => null)
  if (dropped > 0) log.info({ dropped }, 'removed Helia\'s pin keys')
}
