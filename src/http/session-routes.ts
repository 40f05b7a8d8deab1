/**
 * Signing in and out of the web app. `POST /session` trades a token (in a
 * JSON body, never a URL) for an HttpOnly session cookie bound to it;
 * `GET /session` says who is signed in and with what scope, so the page
 * shows only what the token allows; `DELETE /session` signs out.
 */
import { Router } from 'express'
import { z } from 'zod'
import { ForbiddenError, InvalidRequestError, isErrorNamed, UnauthorizedError } from '../errors.js'
import { principalOf, sessionOf } from './auth.js'
import { sendFailure } from './errors.js'
import { clearSessionCookie, originOf, sameOrigin, sessionKeyOf, setSessionCookie } from './session-cookie.js'
import { createSignInLimit, type SignInLimitInit } from './sign-in-limit.js'
import type { ClientAddress } from './client-address.js'
import { smallJsonBody } from './team-schemas.js'
import type { Principal, TokenStore } from '../auth/index.js'
import type { SessionStore } from '../web/sessions.js'

/** What the routes need. */
export interface SessionRoutesComponents {
  tokens: Pick<TokenStore, 'authenticate'>
  sessions: Pick<SessionStore, 'create' | 'remove'>
}

/** Settings of the sign-in route. */
export interface SignInRoutesInit {
  /** The limit on failed sign-ins (sign-in-limit.ts); its defaults when left out. */
  limit?: SignInLimitInit
  /** Where a request came from, for the limit (behind a trusted proxy, the client it names); the socket's peer. */
  clientAddress?: ClientAddress
}

const signIn = z.strictObject({ token: z.string().min(1).max(1024) })

/** POST /session; mount before authentication (it is how a browser authenticates). */
export function signInRoutes (components: SessionRoutesComponents, init: SignInRoutesInit = {}): Router {
  const router = Router()
  const limit = createSignInLimit(init.limit)
  const addressOf = init.clientAddress ?? ((req) => req.socket.remoteAddress)
  router.post('/session', (req, _res, next) => {
    // Without this a hostile page could sign a visitor in as someone else (login CSRF).
    if (!sameOrigin(req)) throw new ForbiddenError('sign in from this site\'s own page (Origin must name it)')
    // Browsers say where a request comes from (on https); only this site's own page signs in.
    const site = req.headers['sec-fetch-site']
    if (site != null && site !== 'same-origin') {
      throw new ForbiddenError(`sign in from this site's own page (Sec-Fetch-Site: ${String(site)})`)
    }
    next()
  }, smallJsonBody, async (req, res) => {
    const parsed = signIn.safeParse(req.body ?? {})
    if (!parsed.success) throw new InvalidRequestError('token: paste a token (a string)')
    const token = parsed.data.token.trim()
    const from = addressOf(req)
    const refused = limit.admit(from)
    if (refused != null) {
      res.setHeader('Retry-After', String(refused.retryAfter))
      sendFailure(res, 429, 'TOO_MANY_REQUESTS', refused.details)
      return
    }
    let principal: Principal
    try {
      principal = await components.tokens.authenticate(token)
    } catch (err) {
      // Only a token that fails counts (not the store failing).
      if (!isErrorNamed(err, UnauthorizedError.name)) limit.giveBack(from)
      throw err
    }
    limit.giveBack(from)
    // sameOrigin passed, so there is an origin: the session is bound to it (http or https alike).
    const id = components.sessions.create(token, principal.user, originOf(req) as string)
    setSessionCookie(req, res, id)
    // The key goes only to the page that signed in; it sends it back as Pinery-Session-Key.
    res.json({ ...principal, session_key: sessionKeyOf(id) })
  })
  return router
}

/** GET and DELETE /session; mount after authentication. */
export function sessionRoutes (components: Pick<SessionRoutesComponents, 'sessions'>): Router {
  const router = Router()
  router.get('/session', (_req, res) => {
    res.json(principalOf(res))
  })
  router.delete('/session', (req, res) => {
    const sid = sessionOf(res)
    if (sid != null) components.sessions.remove(sid)
    clearSessionCookie(req, res)
    res.status(204).end()
  })
  return router
}
