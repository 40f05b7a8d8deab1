/**
 * Access levels on routes: a token below the level a route needs gets 403
 * FORBIDDEN, and the details name the missing scope.
 */
import { ForbiddenError } from '../errors.js'
import { scopeIncludes, type Scope } from '../auth/index.js'
import { principalOf } from './auth.js'
import type { RequestHandler } from 'express'

/** Refuses tokens whose access level does not include `scope`. */
export function requireScope (scope: Scope): RequestHandler {
  return (_req, res, next) => {
    const { scope: have } = principalOf(res)
    if (!scopeIncludes(have, scope)) {
      throw new ForbiddenError(`this token has the ${have} scope; this request needs ${scope}`)
    }
    next()
  }
}
