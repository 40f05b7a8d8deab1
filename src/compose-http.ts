/**
 * The composition root's HTTP side, in a file of its own for length: the Express app built from the
 * service's parts and the configuration, listening. Only the composition root calls it, so the rule that
 * one place constructs Pinery's parts still holds.
 */
import { createBackupWriter, type BackupWriterComponents } from './backup/backup-writer.js'
import { buildInfo } from './build-info.js'
import { connectionCap, perAddressCap } from './connection-limits.js'
import { createHttpApp, type HttpAppComponents } from './http/app.js'
import { trustedPeer } from './http/client-address.js'
import { listenHttp, type HttpListener } from './http/listen.js'
import { defaultWebDir } from './http/web-routes.js'
import { createSessionStore } from './web/sessions.js'
import type { Config } from './config.js'

/** How long busy keep-alive connections may keep a stopping server open. */
const HTTP_CLOSE_GRACE_MS = 2000

/** The parts the API serves; the ones only HTTP uses (sessions, backup writer, upload sockets) are made here. */
export type HttpParts = Omit<HttpAppComponents, 'sessions' | 'backup' | 'uploads'> & {
  /** What GET /backup's archive is read from. */
  backupSource: BackupWriterComponents
}

/** Builds the app and listens on the configured address. */
export async function startHttp (config: Config, parts: HttpParts): Promise<HttpListener> {
  const { backupSource, ...components } = parts
  const uploads = new WeakSet<object>()
  const httpCap = connectionCap(config.maxHttpConnections)
  const perAddress = perAddressCap(httpCap, config.maxHttpConnectionsPerAddress)
  const app = createHttpApp({
    maxBodyBytes: config.maxBodyBytes,
    metricsToken: config.metricsToken,
    rateLimit: { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst },
    corsOrigins: config.corsOrigins,
    trustedProxies: config.trustedProxies,
    maxRequestsPerProxiedClient: perAddress,
    hosts: { allowed: config.allowedHosts, bindHost: config.httpHost },
    gatewayAuth: config.gatewayAuth,
    uploadIdleTimeoutMs: config.requestTimeoutMs,
    webDir: defaultWebDir(),
    webhookRetryForMs: config.webhookDisableAfterMs
  }, {
    ...components,
    uploads,
    sessions: createSessionStore(),
    backup: createBackupWriter({ pineryVersion: buildInfo().version }, backupSource)
  })
  return await listenHttp({
    host: config.httpHost,
    port: config.httpPort,
    requestTimeoutMs: config.requestTimeoutMs,
    closeGraceMs: HTTP_CLOSE_GRACE_MS,
    maxConnections: httpCap,
    maxConnectionsPerAddress: perAddress,
    uncappedPeer: trustedPeer(config.trustedProxies)
  }, { app, uploads, logger: components.logger })
}
