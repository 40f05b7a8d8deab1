/**
 * The offline composition root: team administration, the data check, backup and restore straight on a data dir
 * while the service is stopped (LevelDB's lock refuses it otherwise). It
 * loads the pin records for usage; removing a user's pins removes their
 * records, and the service releases the DAGs no request references at its
 * next start.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createBackupWriter } from './backup/backup-writer.js'
import { restoreBackup, type RestoreReport } from './backup/restore.js'
import { buildInfo } from './build-info.js'
import { ConfigError } from './errors.js'
import { createTokenStore, createUserStore } from './auth/index.js'
import { blockstoreUsage, openDatastore, openStores, syncDatastore } from './node/storage.js'
import { PIN_STATES } from './pins/types.js'
import { createPinIndex } from './pins/query-index.js'
import { createRecordStore } from './pins/record-store.js'
import { removeEveryRequest } from './pins/remove-owned.js'
import { requeueDamaged, verifyPinnedBlocks, type VerifyProgress, type VerifyReport } from './pins/verify.js'
import { createTeam, type Team } from './team/index.js'
import {
  CREATOR_REVOKED, createdByOf, createWebhookStore, forgetOutbox, NOT_ADMIN, nodeWideOf, type WebhookStore
} from './webhooks/index.js'

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
    const index = createPinIndex()
    const records = await createRecordStore({ db: datastore.db, index })
    const users = createUserStore({ datastore, sync: syncDatastore(datastore) })
    const webhooks = opened = await createWebhookStore({ db: datastore.db })
    const tokens = createTokenStore({ datastore, users, sync: syncDatastore(datastore) }, init)
    tokens.onRevoke(async (user, ids) => {
      for (const hook of createdByOf(webhooks, user, ids)) {
        await webhooks.update(hook.id, { enabled: false, disabledReason: CREATOR_REVOKED })
      }
    })
    const team = createTeam({
      users,
      tokens,
      index,
      removePins: async (owner) => await removeEveryRequest(index, owner, async (requestid) => {
        const record = await records.get(requestid)
        if (record != null) await records.remove(record)
        return record != null
      }),
      removeWebhooks: async (owner) => {
        const hooks = webhooks.all().filter(h => h.owner === owner)
        for (const hook of hooks) { await webhooks.remove(hook.id); await forgetOutbox(datastore.db, hook.id) }
        return hooks.length
      },
      disableNodeWide: async (owner) => {
        const hooks = nodeWideOf(webhooks, owner)
        for (const hook of hooks) await webhooks.update(hook.id, { enabled: false, disabledReason: NOT_ADMIN })
        return hooks.length
      },
      // Nothing else runs on a stopped data dir.
      retire: async (_owner, work) => await work(),
      nodeUsage: async () => await blockstoreUsage(join(dataDir, 'blocks'))
    })
    // A deletion a crash of the service cut short is finished here as at the service's start.
    await team.finishDeletions()
    return { team, close: async () => { await webhooks.stop(); await datastore.close() } }
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
  try {
    const index = createPinIndex()
    const records = await createRecordStore({ db: stores.datastore.db, index })
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
    return { ...report, requeued: await requeueDamaged(report.damaged, { records }) }
  } finally {
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
