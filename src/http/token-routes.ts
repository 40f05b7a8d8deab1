/**
 * Self-service tokens, for any token: GET /tokens lists the caller's tokens
 * (never secrets), POST /tokens creates one with at most the caller's own
 * access level and returns its secret once, DELETE /tokens/{id} revokes one.
 */
import { Router, json } from 'express'
import { z } from 'zod'
import { InvalidRequestError, NotFoundError } from '../errors.js'
import { SCOPES, scopeIncludes, type TokenStore } from '../auth/index.js'
import { principalOf } from './auth.js'

/** What the routes need. */
export interface TokenRoutesComponents {
  tokens: Pick<TokenStore, 'create' | 'list' | 'revoke'>
}

const newToken = z.object({
  label: z.string().min(1).max(128).optional(),
  scope: z.enum(SCOPES).optional(),
  expires: z.iso.datetime({ offset: true }).optional()
})

/** Builds the router (mounted after authentication). */
export function tokenRoutes (components: TokenRoutesComponents): Router {
  const { tokens } = components
  const router = Router()

  router.get('/tokens', async (_req, res) => {
    res.json({ results: await tokens.list(principalOf(res).user) })
  })

  router.post('/tokens', json({ limit: 16 * 1024, strict: false, type: () => true }), async (req, res) => {
    const parsed = newToken.safeParse(req.body ?? {})
    if (!parsed.success) throw new InvalidRequestError(parsed.error.issues.map(i => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
    const me = principalOf(res)
    const scope = parsed.data.scope ?? me.scope
    if (!scopeIncludes(me.scope, scope)) throw new InvalidRequestError(`scope: a token with ${me.scope} cannot create one with ${scope}`)
    const { info, secret } = await tokens.create(me.user, {
      scope,
      ...(parsed.data.label != null ? { label: parsed.data.label } : {}),
      ...(parsed.data.expires != null ? { expires: new Date(parsed.data.expires) } : {})
    })
    res.status(201).json({ ...info, secret })
  })

  router.delete('/tokens/:id', async (req, res) => {
    if (!await tokens.revoke(principalOf(res).user, String(req.params.id))) throw new NotFoundError(`no token ${String(req.params.id)}`)
    res.status(204).end()
  })

  return router
}
