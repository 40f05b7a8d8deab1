/**
 * The Express application: authentication, the Pinning Service API routes,
 * JSON 404s, and the single error handler.
 */
import express, { type Express } from 'express'
import { errorHandler, sendFailure } from './errors.js'
import { requireToken } from './auth.js'
import { pinRoutes } from './pins-routes.js'
import type { TokenStore } from '../auth/index.js'
import type { Logger } from '../logger.js'
import type { PinService } from '../pins/index.js'

/** Settings of the HTTP app. */
export interface HttpAppInit {
  maxBodyBytes: number
}

/** What the HTTP app needs. */
export interface HttpAppComponents {
  pins: PinService
  tokens: Pick<TokenStore, 'authenticate'>
  delegates(): string[]
  /** True once the service is shutting down: responses then close their connection. */
  isStopping(): boolean
  logger: Logger
}

/** Builds the app (not listening). */
export function createHttpApp (init: HttpAppInit, components: HttpAppComponents): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('query parser', 'simple')
  app.use((_req, res, next) => {
    if (components.isStopping()) res.setHeader('Connection', 'close')
    next()
  })
  app.use(requireToken(components.tokens))
  app.use(pinRoutes(init, components))
  app.use((req, res) => { sendFailure(res, 404, 'NOT_FOUND', `no route ${req.method} ${req.path}`) })
  app.use(errorHandler(components.logger))
  return app
}
