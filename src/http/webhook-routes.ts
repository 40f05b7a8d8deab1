/**
 * Webhooks over HTTP: register (the signing secret is shown once), list,
 * show, re-enable, test, delete, and each one's last delivery attempts.
 * Every route needs pins:write; node-wide webhooks need an admin token.
 */
import { Router } from 'express'
import { z } from 'zod'
import { InvalidRequestError } from '../errors.js'
import { scopeIncludes } from '../auth/index.js'
import { EVENT_TYPES } from '../events/index.js'
import { principalOf } from './auth.js'
import { requireScope } from './scopes.js'
import { describeIssues } from './schemas.js'
import { smallJsonBody } from './team-schemas.js'
import type { Caller, NewWebhook, Webhooks } from '../webhooks/index.js'
import type { Response } from 'express'

/** Settings the routes tell clients. */
export interface WebhookRoutesInit {
  /** PINERY_WEBHOOK_DISABLE_AFTER_MS: a webhook failing this long is disabled. */
  retryForMs: number
}

/** What the routes need. */
export interface WebhookRoutesComponents {
  webhooks: Webhooks
}

const newBody = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length * 2),
  description: z.string().max(1024).optional(),
  all: z.boolean().optional()
})
const patchBody = z.strictObject({ enabled: z.boolean() })
function parse<T> (schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {})
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error))
  return parsed.data
}

const callerOf = (res: Response): Caller => {
  const p = principalOf(res)
  return { user: p.user, admin: scopeIncludes(p.scope, 'admin'), tokenId: p.tokenId }
}

/** Builds the router (mounted after authentication). */
export function webhookRoutes (init: WebhookRoutesInit, components: WebhookRoutesComponents): Router {
  const { webhooks } = components
  const router = Router()
  const id = (value: unknown): string => {
    if (typeof value !== 'string' || !/^[0-9a-f-]{36}$/.test(value)) {
      throw new InvalidRequestError('webhook id is malformed')
    }
    return value
  }
  router.use('/webhooks', requireScope('pins:write'))

  router.post('/webhooks', smallJsonBody, async (req, res) => {
    const body = parse(newBody, req.body)
    const { view, secret } = await webhooks.create(callerOf(res), body as NewWebhook)
    res.status(201).json({ ...view, secret })
  })
  router.get('/webhooks', (_req, res) => {
    const results = webhooks.list(callerOf(res))
    // The retry window is the operator's setting: the page says it instead of a fixed "24 hours".
    res.json({ count: results.length, results, retry_for_seconds: Math.round(init.retryForMs / 1000) })
  })
  router.get('/webhooks/:id', (req, res) => { res.json(webhooks.get(callerOf(res), id(req.params.id))) })
  router.patch('/webhooks/:id', smallJsonBody, async (req, res) => {
    const { enabled } = parse(patchBody, req.body)
    res.json(await webhooks.setEnabled(callerOf(res), id(req.params.id), enabled))
  })
  router.delete('/webhooks/:id', async (req, res) => {
    await webhooks.remove(callerOf(res), id(req.params.id))
    res.status(204).end()
  })
  router.post('/webhooks/:id/test', async (req, res) => {
    const r = await webhooks.test(callerOf(res), id(req.params.id))
    const { event_id: eventId, ok, latencyMs } = r
    res.json({ event_id: eventId, ok, status_code: r.status ?? null, latency_ms: latencyMs, error: r.error ?? null })
  })
  router.get('/webhooks/:id/deliveries', async (req, res) => {
    const results = await webhooks.deliveries(callerOf(res), id(req.params.id))
    res.json({ count: results.length, results })
  })
  return router
}
