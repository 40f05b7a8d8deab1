/**
 * Bearer-token authentication for every route. The principal is stored on
 * `res.locals` so handlers pass only the user name on to services.
 */
import { UnauthorizedError } from '../errors.js'
import type { Principal, TokenStore } from '../auth/index.js'
import type { RequestHandler, Response } from 'express'

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i

/** Rejects requests without a valid `Authorization: Bearer <token>` header. */
export function requireToken (tokens: Pick<TokenStore, 'authenticate'>): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization
    if (header == null || header === '') throw new UnauthorizedError('missing Authorization: Bearer <token> header')
    const m = BEARER.exec(header)
    if (m == null) throw new UnauthorizedError('malformed Authorization header; expected "Bearer <token>"')
    res.locals.principal = await tokens.authenticate(m[1] as string)
    next()
  }
}

/** The authenticated principal of a request. */
export function principalOf (res: Response): Principal {
  return res.locals.principal as Principal
}
