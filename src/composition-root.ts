/**
 * The composition root: the only place that constructs Pinery's parts and
 * wires them together. `createPinery` opens the data dir, starts the node,
 * the worker pool, the garbage collector and the HTTP server.
 */
import { join } from 'node:path'
import { IdentityBlockstore } from 'blockstore-core/identity'
import { createTokenStore, createUserStore } from './auth/index.js'
import { buildInfo } from './build-info.js'
import { createHealthCheck } from './health.js'
import { createMetrics } from './metrics.js'
import { createContentService, createGateway } from './content/index.js'
import { createEventLog, createEventStreams, createProgressTicker } from './events/index.js'
import { connectionCap } from './connection-limits.js'
import { startHttp } from './compose-http.js'
import { BITSWAP_OPTIONS, createPineryNode, loadNodeKey } from './node/index.js'
import { migrateDatastore } from './node/datastore-format.js'
import { createDialGate } from './node/dial-gate.js'
import { toPinStatus } from './http/pin-status.js'
import { createOutbox, createTargetPolicy, createWebhookStore, createWebhooks } from './webhooks/index.js'
import { cachedBlockstoreUsage, openStores, syncDatastore, writeFileDurably } from './node/storage.js'
import { createGcGuard } from './pins/gc-guard.js'
import { localBlockSource, networkBlockSource } from './pins/dag-walk-sources.js'
import { createRequestPins } from './pins/request-pins.js'
import { createDagPins } from './pins/dag-pins.js'
import { createGarbageCollector, type GarbageCollector } from './pins/gc.js'
import { createIndexSnapshot } from './pins/query-index-snapshot.js'
import { createPinIndex } from './pins/query-index.js'
import { createPinLifecycle } from './pins/lifecycle.js'
import { createRecordStore } from './pins/record-store.js'
import { createUploadBlocks } from './pins/upload-blocks.js'
import { createQuota } from './pins/quota.js'
import { createPinService } from './pins/service.js'
import { createPinSettler } from './pins/settle.js'
import { createPinWorker } from './pins/worker.js'
import { createTeam } from './team/index.js'
import type { Config } from './config.js'
import type { Logger } from './logger.js'
import type { DagWalkComponents } from './pins/dag-walk.js'
import type { PineryNode } from './node/index.js'

/** How stale the node's block totals in GET /usage/all may be (counting them walks the blockstore). */
const NODE_USAGE_MAX_AGE_MS = 10_000

/** The pin index saved at clean shutdown (next to `datastore/`), loaded at start when it matches the records. */
const INDEX_SNAPSHOT_FILE = 'index.snapshot'

/** A running service. */
export interface Pinery {
  /** Base URL of the HTTP API. */
  url: string
  node: PineryNode
  gc: GarbageCollector
  /** The admin token generated on first start, if one was (shown once). */
  generatedAdminToken?: string
  /** Stops everything; pending pins stay pending for the next start. */
  stop(): Promise<void>
}

/** What the root is given rather than builds. */
export interface PineryComponents {
  logger: Logger
  /**
   * The records no longer match what the service keeps in memory (a datastore write answered as failed was
   * stored after all: write-guard.ts): the process should end without its clean stop, whose index snapshot
   * would carry the mismatch, so the next start rebuilds from the records. Without it, only logged.
   */
  diverged?(err: Error): void
}

/** Builds and starts the whole service from a configuration. */
export async function createPinery (config: Config, components: PineryComponents): Promise<Pinery> {
  const { logger } = components
  const startedAt = Date.now()
  const metrics = createMetrics()
  const stores = await openStores(config.dataDir, {
    logger, ...(components.diverged != null ? { diverged: components.diverged } : {})
  })
  const cleanup: Array<() => Promise<void>> = [async () => { await stores.close() }]
  const stopAll = async (): Promise<void> => {
    for (const step of cleanup.reverse()) {
      try { await step() } catch (err) { logger.warn({ err }, 'error while stopping') }
    }
  }
  try {
    const { datastore } = stores
    await migrateDatastore({ datastore, logger })
    const dagPins = await createDagPins({ datastore })
    // Local blocks only, identity CIDs answered from the CID itself.
    const localBlocks = new IdentityBlockstore(stores.blockstore)
    const readInto = stores.blockstore.getInto.bind(stores.blockstore)
    const keyInit = config.keyPassword != null ? { password: config.keyPassword } : {}
    const privateKey = await loadNodeKey(keyInit, { datastore, sync: syncDatastore(datastore) })
    const node = await createPineryNode({
      ...(privateKey != null ? { privateKey } : {}),
      listen: config.listen,
      announce: config.announce,
      bitswap: { ...BITSWAP_OPTIONS, sendWantlistDebounce: config.wantlistDebounceMs },
      bitswapImplementation: config.bitswap,
      // Like the HTTP cap: any peer may dial in, and each connection is a descriptor (connectionCap).
      maxConnections: connectionCap(config.maxPeerConnections),
      inboundConnectionsPerSecond: config.inboundConnectionsPerSecond
    }, {
      blockstore: localBlocks,
      readInto,
      datastore,
      logger,
      dialGate: createDialGate(config.dialAllow)
    })
    cleanup.push(async () => { await node.stop() })
    const { helia } = node

    const index = createPinIndex()
    const snapshot = createIndexSnapshot({ path: join(config.dataDir, INDEX_SNAPSHOT_FILE) }, { logger })
    const indexStarted = performance.now()
    const records = await createRecordStore({ db: datastore.db, index, snapshot })
    logger.info({ records: index.size(), ms: Math.round(performance.now() - indexStarted) }, 'pin index loaded')
    // Runs after the HTTP server and the worker have stopped: the snapshot sees the last write.
    cleanup.push(async () => { await records.close() })
    const guard = createGcGuard()
    const uploadBlocks = createUploadBlocks({ db: datastore.db })
    const gc = createGarbageCollector({ intervalMs: config.gcIntervalMs }, {
      blockstore: stores.blockstore,
      // Not helia.blockstore.delete: it asks content routers to stop reproviding and throws without any.
      deleteBlock: async (cid, options) => { await stores.blockstore.delete(cid, options) },
      pins: dagPins,
      guard,
      logger,
      metrics
    })
    const getCodec = helia.getCodec as DagWalkComponents['getCodec']
    const blockSource = { blockstore: stores.blockstore, getCodec }
    const content = createRequestPins({
      dagPins,
      records,
      local: localBlockSource(blockSource),
      logger,
      onUnpinned: () => { gc.markDirty() }
    })
    const policy = createTargetPolicy({ allow: config.webhookAllow, ownAddresses: [config.httpHost] })
    // A webhook is stored while the token registering it exists (one at a time with its revocation).
    const webhookStore = await createWebhookStore({
      db: datastore.db,
      published: () => events.published(),
      whileTokenValid: async (user, tokenId, write) => { await tokens.whileValid(user, tokenId, write) },
      // And a node-wide one while its owner is an admin (one at a time with their demotion).
      whileAdmin: async (user, write) => { await users.whileAdmin(user, write) }
    })
    const events = await createEventLog({ maxEvents: config.eventLogMaxEvents, maxAgeMs: config.eventLogMaxAgeMs }, {
      db: datastore.db,
      render: (record, details) => toPinStatus(record, node.delegates(), details),
      beforePrune: async (upTo, bodies) => { await outbox.beforePrune(upTo, bodies) },
      logger
    })
    const outbox = createOutbox({
      timeoutMs: config.webhookTimeoutMs,
      retryMinMs: config.webhookRetryMinMs,
      retryMaxMs: config.webhookRetryMaxMs,
      disableAfterMs: config.webhookDisableAfterMs
    }, { db: datastore.db, store: webhookStore, events, policy, logger })
    const webhooks = createWebhooks({ store: webhookStore, outbox, policy, timeoutMs: config.webhookTimeoutMs })
    const streams = createEventStreams({
      heartbeatMs: config.eventHeartbeatMs,
      maxBufferedBytes: config.eventStreamBufferBytes
    }, { events, logger })
    const lifecycle = createPinLifecycle({ records, index, content, onChange: events.onChange })
    // A member's node-wide webhooks are disabled in the write that stores the user.
    const users = createUserStore({
      datastore, sync: syncDatastore(datastore), changing: (user) => webhooks.userChanging(user)
    })
    // What a revoked token registered stops with it: its webhooks in the same write (its event streams end
    // in the HTTP routes).
    const tokens = createTokenStore({
      datastore, users, sync: syncDatastore(datastore), revoking: (user, ids) => webhooks.revoking(user, ids)
    }, { maxTokensPerUser: config.maxTokensPerUser })
    const quota = createQuota({
      maxPendingPerUser: config.maxPendingPerUser, maxMetaBytesPerUser: config.maxMetaBytesPerUser
    }, {
      index,
      limitsOf: async (owner) => { const user = await users.get(owner); return user == null ? null : user.quota },
      pinnedSize: async (cidKey) => await content.pinnedSize(cidKey)
    })
    const settler = createPinSettler({ lifecycle, quota, content, logger })
    const worker = createPinWorker({
      concurrency: config.pinConcurrency,
      stallTimeoutMs: config.stallTimeoutMs,
      fetchConcurrency: config.fetchConcurrency,
      rewantAfterMs: config.rewantAfterMs
    }, {
      jobs: settler,
      records,
      node,
      blocks: networkBlockSource({ ...blockSource, want: node.want, logger }),
      stored: blockSource,
      flushBlocks: async (since) => { await stores.blockstore.sync(since) },
      syncFailures: () => stores.blockstore.syncFailures,
      guard,
      uploads: uploadBlocks,
      logger,
      metrics,
      onFailed: () => { gc.markDirty() }
    })
    const pins = createPinService({ records, index, lifecycle, worker, settler, quota, content })
    const team = createTeam({
      users,
      tokens,
      index,
      removePins: async (owner) => await pins.removeAll(owner),
      removeWebhooks: async (owner) => await webhooks.removeOwned(owner),
      retire: async (owner, work) => await quota.retire(owner, work),
      nodeUsage: cachedBlockstoreUsage(join(config.dataDir, 'blocks'), NODE_USAGE_MAX_AGE_MS)
    })
    const uploads = createContentService({ maxUploadBlocks: config.maxUploadBlocks }, {
      pins, blockstore: stores.blockstore, getCodec, guard, gc, logger, uploads: uploadBlocks, records,
      flushBlocks: async (since) => { await stores.blockstore.sync(since) },
      syncFailures: () => stores.blockstore.syncFailures
    })
    const gateway = createGateway({
      blockstore: localBlocks,
      readInto,
      getCodec,
      pins: dagPins,
      requests: records
    })

    const progress = createProgressTicker({}, {
      events,
      fetching: () => worker.fetching(),
      progressOf: (id) => worker.progress(id),
      logger
    })

    cleanup.push(async () => { uploads.stop(); await gc.stop(); await worker.stop() })
    cleanup.push(async () => {
      streams.stop(); progress.stop(); await outbox.stop(); await webhookStore.stop(); events.stop()
    })
    // Before the worker resumes anything: a user deletion a crash cut short leaves requests of nobody.
    // Said first: removing many requests (one durable write each) can hold the start up for a while.
    const unfinished = await users.removing()
    if (unfinished.length > 0) logger.warn({ users: unfinished }, 'finishing user deletions a crash interrupted')
    await team.finishDeletions()
    await uploads.undoInterrupted()
    await content.reconcile()
    await outbox.start()
    await worker.start()
    await progress.start()
    gc.start()

    let stopping = false
    metrics.observe({
      pinsByStatus: () => index.countsByStatus(),
      queue: () => worker.stats(),
      connections: () => node.libp2p.getConnections().length
    })
    const health = createHealthCheck({ ...buildInfo(), minFreeBytes: config.minFreeBytes }, {
      datastore,
      blocksDir: join(config.dataDir, 'blocks'),
      libp2p: node.libp2p,
      delegates: () => node.delegates(),
      queue: () => worker.stats(),
      startedAt,
      metrics
    })
    const http = await startHttp(config, {
      pins,
      tokens,
      team,
      delegates: () => node.delegates(),
      isStopping: () => stopping,
      health,
      metrics,
      logger,
      content: uploads,
      gateway,
      events,
      streams,
      webhooks,
      backupSource: { db: datastore.db, blockstore: stores.blockstore, gc }
    })
    cleanup.push(async () => { stopping = true; streams.stop(); await http.close() })

    // Only once everything else works, so a failed start leaves no token nobody saw. A generated one is
    // in its file (durably) before its hash is stored: stored, no other is generated at the next start.
    const { generated } = await tokens.bootstrapAdmin(config.adminToken, {
      keep: async (secret) => { await writeFileDurably(join(config.dataDir, 'admin-token'), `${secret}\n`) }
    })

    return {
      url: http.url,
      node,
      gc,
      ...(generated != null ? { generatedAdminToken: generated } : {}),
      stop: stopAll
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
