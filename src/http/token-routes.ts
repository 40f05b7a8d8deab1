/**
 * Self-service tokens, for tokens with pins:write (managing devices is
 * writing): GET /tokens lists the caller's tokens (never secrets), POST
 * /tokens creates one with at most the caller's own access level and expiry
 * and returns its secret once, DELETE /tokens/{id} revokes one of at most
 * the caller's level, with every token it created.
 */
import { Router } from 'express'
import { ForbiddenError, InvalidRequestError, NotFoundError } from '../errors.js'
import { scopeIncludes, type TokenStore } from '../auth/index.js'
import { principalOf } from './auth.js'
import { requireScope } from './scopes.js'
import { parseTokenBody, smallJsonBody } from './team-schemas.js'

/** What the routes need. */
export interface TokenRoutesComponents {
  tokens: Pick<TokenStore, 'create' | 'list' | 'get' | 'revoke'>
}

/** Builds the router (mounted after authentication). */
export function tokenRoutes (components: TokenRoutesComponents): Router {
  const { tokens } = components
  const router = Router()
  const write = requireScope('pins:write')

  router.get('/tokens', write, async (_req, res) => {
    const results = await tokens.list(principalOf(res).user)
    res.json({ count: results.length, results })
  })

  router.post('/tokens', write, smallJsonBody, async (req, res) => {
    const options = parseTokenBody(req.body)
    const me = principalOf(res)
    const scope = options.scope ?? me.scope
    if (!scopeIncludes(me.scope, scope)) {
      throw new InvalidRequestError(`scope: a token with ${me.scope} cannot create one with ${scope}`)
    }
    const { info, secret } = await tokens.create(me.user, { ...options, scope, creator: me })
    res.status(201).json({ ...info, secret })
  })

  router.delete('/tokens/:id', write, async (req, res) => {
    const me = principalOf(res)
    const id = String(req.params.id)
    const target = await tokens.get(me.user, id)
    if (target == null) throw new NotFoundError(`no token ${id}`)
    if (!scopeIncludes(me.scope, target.scope)) {
      throw new ForbiddenError(
        `this token has the ${me.scope} scope; revoking token ${id} needs ${target.scope}, its scope`)
    }
    if (await tokens.revoke(me.user, id) === 0) throw new NotFoundError(`no token ${id}`)
    res.status(204).end()
  })

  return router
}
