/**
 * Authentication for every route: an `Authorization: Bearer <token>` header,
 * or the web app's session cookie, which stands for the token the person
 * signed in with (authenticated again on every request, so a revoked or
 * expired token ends the session). The principal is stored on `res.locals`
 * so handlers pass only the user name on to services.
 */
import { ForbiddenError, isErrorNamed, UnauthorizedError } from '../errors.js'
import {
  clearSessionCookie, hasSessionKey, needsSessionKey, originOf, SAFE_METHODS, SESSION_COOKIE, SESSION_KEY_HEADER,
  sameOrigin, sessionCookieOf
} from './session-cookie.js'
import type { Principal, TokenStore } from '../auth/index.js'
import type { SessionStore } from '../web/sessions.js'
import type { RequestHandler, Response } from 'express'

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i
/** Why a session cookie (or the page's key without one) no longer signs in: said so a person knows why. */
const SESSION_ENDED = 'the session has ended (Pinery was restarted, it went unused for 12 hours, or it was signed ' +
  'out); sign in again'

/**
 * Rejects requests without a valid bearer token or session cookie. A header,
 * when present, wins; unsafe methods signed in by cookie need an `Origin`
 * header naming this site as the session was signed in from, scheme included
 * (403 otherwise), and the session's key (401 otherwise).
 */
export function requireToken (
  tokens: Pick<TokenStore, 'authenticate'>,
  sessions?: Pick<SessionStore, 'get' | 'remove'>
): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization
    const cookie = header == null || header === '' ? (sessions != null ? sessionCookieOf(req) : undefined) : undefined
    if (cookie != null && sessions != null) {
      if (cookie.several) {
        // Picking one let a page on another port of this host (plain http has no __Host- cookies) plant its
        // own session, sent first for a longer Path: the person's uploads went to that session's user. With
        // the page's key, its own is the one the key names (session-cookie.ts); without, none can be told.
        throw new UnauthorizedError(`this request carries several ${SESSION_COOKIE} cookies, one set by ` +
          `another site on this host or domain, and no ${SESSION_KEY_HEADER} naming one; sign in again`)
      }
      const sid = cookie.id
      const session = sessions.get(sid)
      // A session signed in on https counts only under the __Host- name, which no other site can set.
      if (session == null || session.origin.startsWith('https:') !== cookie.secure) {
        clearSessionCookie(req, res)
        throw new UnauthorizedError(SESSION_ENDED)
      }
      const { secret } = session
      // The scheme too: a page on http://this-host (a network attacker's) is not the https page signed in.
      if (!SAFE_METHODS.has(req.method) && !(sameOrigin(req) && originOf(req) === session.origin)) {
        throw new ForbiddenError(`${req.method} signed in by cookie needs an Origin header naming this site ` +
          `as signed in from (${session.origin})`)
      }
      // Over plain http another site on this host can plant its own session: only the page that signed in
      // holds the key (session-cookie.ts).
      if (needsSessionKey(req) && !hasSessionKey(req, sid)) {
        throw new UnauthorizedError(`${req.method} ${req.path} signed in by cookie needs the ${SESSION_KEY_HEADER} ` +
          'header its sign-in gave (a session cookie this page did not sign in with may have been set by another ' +
          'site on this host); sign in again')
      }
      try {
        res.locals.principal = await tokens.authenticate(secret)
      } catch (err) {
        if (!isErrorNamed(err, UnauthorizedError.name)) throw err
        sessions.remove(sid)
        clearSessionCookie(req, res)
        throw new UnauthorizedError(`the session ended: ${(err as Error).message}; sign in again`)
      }
      res.locals.session = sid
      res.locals.reauthenticate = async (): Promise<Principal> => {
        const now = sessions.get(sid)
        if (now == null) throw new UnauthorizedError('the session has ended')
        return await tokens.authenticate(now.secret)
      }
      next()
      return
    }
    if (header == null || header === '') {
      // The web app sends its session's key on every request: with the key and no cookie, an earlier answer
      // cleared an ended session's cookie (a restart ends them all), and the page is told that, not jargon.
      if (req.headers[SESSION_KEY_HEADER] != null) throw new UnauthorizedError(SESSION_ENDED)
      throw new UnauthorizedError('missing Authorization: Bearer <token> header')
    }
    const m = BEARER.exec(header)
    if (m == null) throw new UnauthorizedError('malformed Authorization header; expected "Bearer <token>"')
    const secret = m[1] as string
    res.locals.principal = await tokens.authenticate(secret)
    res.locals.reauthenticate = async (): Promise<Principal> => await tokens.authenticate(secret)
    next()
  }
}

/** The authenticated principal of a request. */
export function principalOf (res: Response): Principal {
  return res.locals.principal as Principal
}

/**
 * Authenticates the request's credentials again (the same token, or the same session and its token):
 * the principal as it is now, or UnauthorizedError. For requests that outlive a moment (event streams).
 */
export function reauthenticatorOf (res: Response): () => Promise<Principal> {
  return res.locals.reauthenticate as () => Promise<Principal>
}

/** The session id when the request was signed in by cookie. */
export function sessionOf (res: Response): string | undefined {
  return res.locals.session as string | undefined
}
