/**
 * The Express application: the web app's files and sign-in, authentication
 * (bearer token or session cookie), the Pinning Service API routes, JSON
 * 404s, and the single error handler.
 */
import express, { type Express } from 'express'
import { errorHandler, sendFailure } from './errors.js'
import { requireToken } from './auth.js'
import { clientAddress, trustedPeer } from './client-address.js'
import { clientRequestCap } from './client-cap.js'
import { cors } from './cors.js'
import { allowedHosts, hostCheck, type HostCheckInit } from './host-check.js'
import { opsRoutes } from './ops-routes.js'
import { rateLimit, type RateLimitInit } from './rate-limit.js'
import { requestLog, routeOf } from './request-log.js'
import { requireScope } from './scopes.js'
import { teamRoutes } from './team-routes.js'
import { tokenRoutes } from './token-routes.js'
import { pinRoutes } from './pins-routes.js'
import { contentRoutes } from './content-routes.js'
import { gatewayRoutes, isGatewayPath } from './gateway-routes.js'
import { sessionRoutes, signInRoutes } from './session-routes.js'
import { isPath } from './session-cookie.js'
import { webRoutes } from './web-routes.js'
import type { SessionStore } from '../web/sessions.js'
import { eventRoutes } from './event-routes.js'
import { webhookRoutes } from './webhook-routes.js'
import { backupRoutes } from './backup-routes.js'
import type { EventLog, EventStreams } from '../events/index.js'
import type { Webhooks } from '../webhooks/index.js'
import type { ContentService, Gateway } from '../content/index.js'
import type { TokenStore } from '../auth/index.js'
import type { HealthCheck } from '../health.js'
import type { HttpMetrics } from '../metrics.js'
import type { Registry } from 'prom-client'
import type { Logger } from '../logger.js'
import type { PinService } from '../pins/types.js'
import type { Team } from '../team/index.js'
import type { BackupWriter } from '../backup/backup-writer.js'

/** Settings of the HTTP app. */
export interface HttpAppInit {
  maxBodyBytes: number
  metricsToken?: string
  rateLimit: RateLimitInit
  corsOrigins: string[]
  /** Reverse proxies whose X-Forwarded-For names the client (client-address.ts). */
  trustedProxies: string[]
  /** Open requests one client behind a trusted proxy may have (client-cap.ts); unlimited when left out. */
  maxRequestsPerProxiedClient?: number
  /** The names that reach the routes answering without credentials (DNS rebinding: host-check.ts). */
  hosts: HostCheckInit
  /** Who may read GET /ipfs/…: token holders with pins:read, or anyone. */
  gatewayAuth: 'token' | 'none'
  /**
   * An upload whose bytes stop arriving for this long fails with 408; a gateway body or backup its client stops
   * taking ends.
   */
  uploadIdleTimeoutMs: number
  /** Directory of the web app's files (index.html, app/). */
  webDir: string
  /** How long a failing webhook is retried before it is disabled: told with the list, so the page says it. */
  webhookRetryForMs: number
}

/** What the HTTP app needs. */
export interface HttpAppComponents {
  pins: PinService
  tokens: Pick<TokenStore, 'authenticate' | 'create' | 'list' | 'get' | 'revoke' | 'onRevoke'>
  team: Team
  delegates(): string[]
  /** True once the service is shutting down: responses then close their connection. */
  isStopping(): boolean
  health: HealthCheck
  metrics: HttpMetrics & { registry: Registry }
  logger: Logger
  content: ContentService
  gateway: Gateway
  /** Sockets receiving an upload, exempt from Node's whole-request timeout meanwhile. */
  uploads: Pick<WeakSet<object>, 'add' | 'delete'>
  /** Web app sessions: a cookie stands for the token it was signed in with. */
  sessions: SessionStore
  events: Pick<EventLog, 'isGone' | 'published'>
  streams: Pick<EventStreams, 'open'>
  webhooks: Webhooks
  /** Writes GET /backup's archive. */
  backup: BackupWriter
}

/** Builds the app (not listening). */
export function createHttpApp (init: HttpAppInit, components: HttpAppComponents): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('query parser', 'simple')
  app.use((_req, res, next) => {
    if (components.isStopping()) res.setHeader('Connection', 'close')
    // Every answer (JSON, errors, the page, the gateway's user content): what it says it is, never sniffed
    // into something a browser runs. Before, only the gateway and the page's files said so.
    res.setHeader('X-Content-Type-Options', 'nosniff')
    next()
  })
  const addressOf = clientAddress(init.trustedProxies)
  app.use(requestLog({
    logger: components.logger,
    clientAddress: addressOf,
    onFinished (req, res, seconds) {
      // The matched route pattern (never the raw path: request IDs would explode the label set).
      components.metrics.httpRequest(routeOf(req) ?? 'unmatched', req.method, res.statusCode, seconds)
    }
  }))
  const isTrustedPeer = trustedPeer(init.trustedProxies)
  if (isTrustedPeer != null && init.maxRequestsPerProxiedClient != null) {
    app.use(clientRequestCap({ max: init.maxRequestsPerProxiedClient }, { isTrustedPeer, clientAddress: addressOf }))
  }
  app.use(cors(init.corsOrigins))
  // What answers without credentials answers only by this node's names (DNS rebinding): a metrics token is one.
  // The gateway's answer is the same to every reader, a backup's to every admin: a link to either needs no session
  // key (which cookie of several is the person's need not be told). The event stream and the backup are started
  // only by the page itself (the stream is read with fetch() and the key's header, never a key in its URL).
  const authenticate = requireToken(components.tokens, components.sessions, {
    sharedReads: [{ matches: isGatewayPath, scope: 'pins:read' }, { matches: isPath('/backup'), scope: 'admin' }],
    pageOnly: req => isPath('/events')(req) || isPath('/backup')(req)
  })
  const named = hostCheck(allowedHosts(init.hosts), authenticate)
  app.get(init.metricsToken == null ? ['/health', '/metrics'] : '/health', named)
  if (init.gatewayAuth === 'none') app.get('/ipfs/{*path}', named)
  app.use(opsRoutes({ metricsToken: init.metricsToken },
    { health: components.health, registry: components.metrics.registry }))
  const gateway = gatewayRoutes({ public: init.gatewayAuth === 'none', idleTimeoutMs: init.uploadIdleTimeoutMs },
    { gateway: components.gateway, logger: components.logger })
  if (init.gatewayAuth === 'none') app.use(gateway)
  app.use(webRoutes({ dir: init.webDir }))
  app.use(signInRoutes({ tokens: components.tokens, sessions: components.sessions },
    { clientAddress: addressOf }))
  app.use(authenticate)
  app.use(rateLimit(init.rateLimit))
  app.use(sessionRoutes({ sessions: components.sessions }))
  app.use(tokenRoutes({ tokens: components.tokens }))
  app.use(teamRoutes({ team: components.team }))
  app.use(backupRoutes({ idleTimeoutMs: init.uploadIdleTimeoutMs }, components))
  // The access level each Pinning Service API route needs (each level includes the ones before it).
  app.post('/pins', requireScope('pins:add'))
  app.get(['/pins', '/pins/:requestid'], requireScope('pins:read'))
  app.post('/pins/:requestid', requireScope('pins:write'))
  app.delete('/pins/:requestid', requireScope('pins:write'))
  app.post('/content', requireScope('pins:add'))
  app.get('/ipfs/{*path}', requireScope('pins:read'))
  app.use(pinRoutes(init, components))
  app.use(eventRoutes(components))
  app.use(webhookRoutes({ retryForMs: init.webhookRetryForMs }, components))
  app.use(contentRoutes({ idleTimeoutMs: init.uploadIdleTimeoutMs, maxFieldBytes: init.maxBodyBytes }, components))
  if (init.gatewayAuth !== 'none') app.use(gateway)
  app.use((req, res) => { sendFailure(res, 404, 'NOT_FOUND', `no route ${req.method} ${req.path}`) })
  app.use(errorHandler(components.logger))
  return app
}
