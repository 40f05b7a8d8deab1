/**
 * The offline composition root: team administration, the data check, backup and restore straight on a data dir
 * while the service is stopped (LevelDB's lock refuses it otherwise). It
 * loads the pin records for usage; removing a user's pins removes their
 * records, and the service releases the DAGs no request references at its
 * next start. Records change through the pin lifecycle with the event log's
 * hook, as in the service: each change lands with its event in one batch
 * (pin.deleted, pin.queued), which the service streams and delivers to
 * webhooks once it starts.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createBackupWriter } from './backup/backup-writer.js'
import { restoreBackup, type RestoreReport } from './backup/restore.js'
import { buildInfo } from './build-info.js'
import { ConfigError } from './errors.js'
import {
  createTokenStore, createUserStore, type RevokeHook, type User, type UserChangeHook
} from './auth/index.js'
import { createEventLog, type EventLog } from './events/index.js'
import { toPinStatus } from './http/pin-status.js'
import { createLogger } from './logger.js'
import { blockstoreUsage, openDatastore, openStores, syncDatastore } from './node/storage.js'
import { PIN_STATES } from './pins/types.js'
import { createPinIndex, type PinIndex } from './pins/query-index.js'
import { createPinLifecycle, type PinLifecycle } from './pins/lifecycle.js'
import { createRecordStore, type ExtraOp, type RecordStore } from './pins/record-store.js'
import { removeEveryRequest } from './pins/remove-owned.js'
import { requeueDamaged, verifyPinnedBlocks, type VerifyProgress, type VerifyReport } from './pins/verify.js'
import { createTeam, type Team } from './team/index.js'
import {
  createWebhookStore, disableCreatedBy, disableNodeWideOf, forgetOutbox, type WebhookStore, type WebhookWrites
} from './webhooks/index.js'
import type { Level } from 'level'

/** The pin records of a stopped data dir, changed through their lifecycle: every change with its event. */
interface OfflinePins {
  index: PinIndex
  records: RecordStore
  lifecycle: PinLifecycle
  events: EventLog
}

async function openOfflinePins (db: Level<string, Uint8Array>): Promise<OfflinePins> {
  const index = createPinIndex()
  const records = await createRecordStore({ db, index })
  const keepAll = { maxEvents: Number.MAX_SAFE_INTEGER, maxAgeMs: Number.MAX_SAFE_INTEGER, prunes: false }
  const events = await createEventLog(keepAll, {
    db,
    // No node runs offline, so no addresses to hand out: the service's own answers carry them.
    render: (record, details) => toPinStatus(record, [], details),
    logger: createLogger({ level: 'warn', destination: process.stderr })
  })
  // No DAG is unpinned offline: the service's start releases those no request references (reconcile).
  const content = { release: async () => {} }
  const lifecycle = createPinLifecycle({ records, index, content, onChange: events.onChange })
  return { index, records, lifecycle, events }
}

/** Webhook writes as a store's hook: nothing runs to deliver offline, so nothing to park once written. */
const hooked = (writes: WebhookWrites): { extra: ExtraOp[], done(): Promise<void> } =>
  ({ extra: writes.extra, done: writes.written })

/** A team opened on a data dir; close it to release the lock. */
export interface OfflineTeam {
  team: Team
  close(): Promise<void>
}

/** Settings the offline team shares with the service. */
export interface OfflineTeamInit {
  maxTokensPerUser?: number
}

/** Opens `dataDir` for administration; throws DataDirLockedError while the service runs. */
export async function openOfflineTeam (dataDir: string, init: OfflineTeamInit = {}): Promise<OfflineTeam> {
  const datastore = await openDatastore(dataDir)
  let opened: WebhookStore | undefined
  try {
    const { index, lifecycle, events } = await openOfflinePins(datastore.db)
    const webhooks = opened = await createWebhookStore({ db: datastore.db, published: () => events.published() })
    // As in the service: a member's node-wide webhooks are disabled in the write that stores the user, and
    // the webhooks a revoked token registered in the revocation's.
    const changing = (user: User): ReturnType<UserChangeHook> => hooked(disableNodeWideOf(webhooks, user))
    const revoking = (user: string, ids: string[]): ReturnType<RevokeHook> =>
      hooked(disableCreatedBy(webhooks, user, ids))
    const users = createUserStore({ datastore, sync: syncDatastore(datastore), changing })
    const tokens = createTokenStore({ datastore, users, sync: syncDatastore(datastore), revoking }, init)
    const team = createTeam({
      users,
      tokens,
      index,
      removePins: async (owner) => await removeEveryRequest(index, owner, async (requestid) =>
        await lifecycle.remove(requestid) != null),
      removeWebhooks: async (owner) => {
        const hooks = webhooks.all().filter(h => h.owner === owner)
        for (const hook of hooks) { await webhooks.remove(hook.id); await forgetOutbox(datastore.db, hook.id) }
        return hooks.length
      },
      // Nothing else runs on a stopped data dir.
      retire: async (_owner, work) => await work(),
      nodeUsage: async () => await blockstoreUsage(join(dataDir, 'blocks'))
    })
    // A deletion a crash of the service cut short is finished here as at the service's start.
    await team.finishDeletions()
    return { team, close: async () => { events.stop(); await webhooks.stop(); await datastore.close() } }
  } catch (err) {
    await opened?.stop()
    await datastore.close()
    throw err
  }
}

/** Checks every block of every pinned DAG in `dataDir` (pins/verify.ts); DataDirLockedError while the service runs. */
export async function verifyDataDir (
  dataDir: string, options: { signal?: AbortSignal, onProgress?(p: VerifyProgress): void, requeue?: boolean } = {}
): Promise<VerifyReport & { requeued?: number }> {
  const stores = await openStores(dataDir)
  let events: EventLog | undefined
  try {
    const pins = await openOfflinePins(stores.datastore.db)
    const { index, records, lifecycle } = pins
    events = pins.events
    const all = { match: 'exact' as const, statuses: [...PIN_STATES], limit: Number.MAX_SAFE_INTEGER }
    const report = await verifyPinnedBlocks({
      db: stores.datastore.db,
      blockstore: stores.blockstore,
      requestsOf: async (root) => {
        const ids = index.owners().flatMap(owner => index.query(owner, all, new Set([root])).requestids)
        const found = await Promise.all(ids.map(async id => await records.get(id)))
        return found.flatMap(r => r == null ? [] : [{ requestid: r.requestid, owner: r.owner, status: r.status,
          ...(r.pin.name != null ? { name: r.pin.name } : {}) }])
      }
    }, options)
    if (options.requeue !== true || report.damaged.length === 0) return report
    return { ...report, requeued: await requeueDamaged(report.damaged, { lifecycle }) }
  } finally {
    events?.stop()
    await stores.close()
  }
}

/** Writes a backup archive of a stopped data dir into `sink` (see backup/backup-writer.ts). */
export async function backupDataDir (dataDir: string, sink: NodeJS.WritableStream): Promise<void> {
  // Opening creates a data dir that is missing: a mistyped PINERY_DATA_DIR made an empty backup that exited 0.
  try {
    await stat(join(dataDir, 'datastore', 'CURRENT'))
  } catch {
    throw new ConfigError(`${dataDir} holds no Pinery data (no datastore) to back up; is PINERY_DATA_DIR right?`)
  }
  const stores = await openStores(dataDir)
  try {
    const writer = createBackupWriter({ pineryVersion: buildInfo().version },
      { db: stores.datastore.db, blockstore: stores.blockstore })
    const tar = await writer.archive()
    // Not tar.pipe(): a sink that fails (a full disk, a closed pipe) made an unhandled error on tar-stream's
    // side of the pipe, which crashed the CLI with a stack trace and left its temporary file behind.
    await pipeline(tar as unknown as NodeJS.ReadableStream, sink)
  } finally {
    await stores.close()
  }
}

/** Restores a backup archive into `dataDir` (missing or empty), then checks every pinned DAG it holds. */
export async function restoreDataDir (
  source: AsyncIterable<Uint8Array>, dataDir: string
): Promise<{ restored: RestoreReport, verified: VerifyReport }> {
  const restored = await restoreBackup(source, dataDir)
  return { restored, verified: await verifyDataDir(dataDir) }
}
