/**
 * Operator routes, outside the Pinning Service API: GET /health (no token)
 * and GET /metrics (Prometheus text; a token only when one is configured).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Router } from 'express'
import { sendFailure } from './errors.js'
import type { HealthCheck } from '../health.js'
import type { Registry } from 'prom-client'

/** Settings of the operator routes. */
export interface OpsRoutesInit {
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string
}

/** What the operator routes need. */
export interface OpsRoutesComponents {
  health: HealthCheck
  registry: Registry
}

/** Builds the router; mount it before token authentication. */
export function opsRoutes (init: OpsRoutesInit, components: OpsRoutesComponents): Router {
  const router = Router()
  router.get('/health', async (_req, res) => {
    const report = await components.health()
    res.status(report.status === 'ok' ? 200 : 503).json(report)
  })
  router.get('/metrics', async (req, res) => {
    if (init.metricsToken != null) {
      // Digests of equal length: comparing the raw values would end early on a length mismatch, telling it.
      const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
      const given = digest(/^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '')
      if (!timingSafeEqual(given, digest(init.metricsToken))) {
        res.setHeader('WWW-Authenticate', 'Bearer')
        sendFailure(res, 401, 'UNAUTHORIZED', 'GET /metrics needs the metrics token')
        return
      }
    }
    res.setHeader('Content-Type', components.registry.contentType)
    res.send(await components.registry.metrics())
  })
  return router
}
