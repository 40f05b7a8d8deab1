/**
 * Self-service tokens, for any token: GET /tokens lists the caller's tokens
 * (never secrets), POST /tokens creates one with at most the caller's own
 * access level and returns its secret once, DELETE /tokens/{id} revokes one.
 */
import { Router } from 'express'
import { InvalidRequestError, NotFoundError } from '../errors.js'
import { scopeIncludes, type TokenStore } from '../auth/index.js'
import { principalOf } from './auth.js'
import { parseTokenBody, smallJsonBody } from './team-schemas.js'

/** What the routes need. */
export interface TokenRoutesComponents {
  tokens: Pick<TokenStore, 'create' | 'list' | 'revoke'>
}

/** Builds the router (mounted after authentication). */
export function tokenRoutes (components: TokenRoutesComponents): Router {
  const { tokens } = components
  const router = Router()

  router.get('/tokens', async (_req, res) => {
    const results = await tokens.list(principalOf(res).user)
    res.json({ count: results.length, results })
  })

  router.post('/tokens', smallJsonBody, async (req, res) => {
    const options = parseTokenBody(req.body)
    const me = principalOf(res)
    const scope = options.scope ?? me.scope
    if (!scopeIncludes(me.scope, scope)) throw new InvalidRequestError(`scope: a token with ${me.scope} cannot create one with ${scope}`)
    const { info, secret } = await tokens.create(me.user, { ...options, scope })
    res.status(201).json({ ...info, secret })
  })

  router.delete('/tokens/:id', async (req, res) => {
    if (!await tokens.revoke(principalOf(res).user, String(req.params.id))) throw new NotFoundError(`no token ${String(req.params.id)}`)
    res.status(204).end()
  })

  return router
}
