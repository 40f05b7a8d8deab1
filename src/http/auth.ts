/**
 * Authentication for every route: an `Authorization: Bearer <token>` header,
 * or the web app's session cookie, which stands for the token the person
 * signed in with (authenticated again on every request, so a revoked or
 * expired token ends the session). The principal is stored on `res.locals`
 * so handlers pass only the user name on to services.
 */
import { ForbiddenError, isErrorNamed, UnauthorizedError } from '../errors.js'
import {
  carriesSessionKey, clearSessionCookie, hasSessionKey, needsSessionKey, originOf, SAFE_METHODS, SESSION_COOKIE,
  SESSION_KEY_HEADER, sameOrigin, sessionCookieOf, sessionCookiesOf
} from './session-cookie.js'
import { scopeIncludes, type Principal, type Scope, type TokenStore } from '../auth/index.js'
import type { SessionStore } from '../web/sessions.js'
import type { Request, RequestHandler, Response } from 'express'

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i
/** Why a session cookie (or the page's key without one) no longer signs in: said so a person knows why. */
const SESSION_ENDED = 'the session has ended (Pinery was restarted, it went unused for 12 hours, or it was signed ' +
  'out); sign in again'

/** Settings of the authentication. */
export interface RequireTokenInit {
  /**
   * Reads whose answer is the same for everyone holding `scope` (the gateway's: any DAG this node pins, to any
   * reader). A link to one from outside the page (a bookmark, another page, a chat, the history, with another
   * session's key or none) answered 401 while a second session cookie covered its path, since which cookie is
   * the person's cannot be told. For these it need not be: any session of the request's cookies that holds the
   * scope serves the read, which is all that is done as it (a change still needs the person's own key).
   */
  sharedReads?: Array<{ matches: (req: Request) => boolean, scope: Scope }>
  /**
   * Reads by cookie that only this node's own page starts (the event stream, the backup): refused (403) when the
   * browser says another origin started them (`Sec-Fetch-Site` other than `same-origin`, or `none` for an
   * address typed or bookmarked). Their URLs carry no session key any more, so nothing in the URL tells the
   * page's own request from another's. A cross-site page never had the cookie (SameSite=Strict) and cannot read
   * an answer (no CORS grants credentials); a page on another port of this host is the same site, so the cookie
   * went along: it could start backups in the person's browser (each holds the one-backup lock and reads every
   * block) and hold event streams open. Browsers without the header keep SameSite's protection.
   */
  pageOnly?: (req: Request) => boolean
}

/** What a browser's `Sec-Fetch-Site` may say for a page-only read (RequireTokenInit.pageOnly). */
const PAGE_SITES = new Set(['same-origin', 'none'])

/**
 * Rejects requests without a valid bearer token or session cookie. A header,
 * when present, wins; unsafe methods signed in by cookie need an `Origin`
 * header naming this site as the session was signed in from, scheme included
 * (403 otherwise), and the session's key (401 otherwise).
 */
export function requireToken (
  tokens: Pick<TokenStore, 'authenticate'>,
  sessions?: Pick<SessionStore, 'get' | 'remove'>,
  init: RequireTokenInit = {}
): RequestHandler {
  const signedIn = (res: Response, sid: string, principal: Principal, store: Pick<SessionStore, 'get'>): void => {
    res.locals.principal = principal
    res.locals.session = sid
    res.locals.reauthenticate = async (): Promise<Principal> => {
      const now = store.get(sid)
      if (now == null) throw new UnauthorizedError('the session has ended')
      return await tokens.authenticate(now.secret)
    }
  }
  /**
   * The principal of session `sid` (its token authenticated), or undefined when it has ended (its cookie cleared,
   * unless another cookie of the request has its name: the clear, made for Path=/, would drop the person's own
   * cookie and leave one planted under a longer path).
   */
  const principalOfSession = async (
    req: Request, res: Response, store: Pick<SessionStore, 'get' | 'remove'>,
    cookie: { id: string, name: string, secure: boolean }
  ): Promise<Principal | undefined> => {
    const clear = (): void => {
      if (sessionCookiesOf(req).filter(c => c.name === cookie.name).length === 1) {
        clearSessionCookie(req, res, cookie.name)
      }
    }
    const session = store.get(cookie.id)
    // A session signed in on https counts only under the __Host- name, which no other site can set.
    if (session == null || session.origin.startsWith('https:') !== cookie.secure) {
      clear()
      return undefined
    }
    try {
      return await tokens.authenticate(session.secret)
    } catch (err) {
      if (!isErrorNamed(err, UnauthorizedError.name)) throw err
      store.remove(cookie.id)
      clear()
      return undefined
    }
  }
  /** Signs a shared read in by the first of its cookies' sessions holding the scope (sharedReads). */
  const anyReader = async (
    req: Request, res: Response, store: Pick<SessionStore, 'get' | 'remove'>, scope: Scope
  ): Promise<void> => {
    let fallback: { sid: string, principal: Principal } | undefined
    for (const cookie of sessionCookiesOf(req)) {
      const principal = await principalOfSession(req, res, store, cookie)
      if (principal == null) continue
      if (scopeIncludes(principal.scope, scope)) { signedIn(res, cookie.id, principal, store); return }
      fallback ??= { sid: cookie.id, principal } // the scope check after this says what is missing
    }
    if (fallback == null) throw new UnauthorizedError(SESSION_ENDED)
    signedIn(res, fallback.sid, fallback.principal, store)
  }
  return async (req, res, next) => {
    const header = req.headers.authorization
    const cookie = header == null || header === '' ? (sessions != null ? sessionCookieOf(req) : undefined) : undefined
    if (cookie != null && sessions != null) {
      const site = req.headers['sec-fetch-site']
      if (init.pageOnly?.(req) === true && site != null && !PAGE_SITES.has(String(site))) {
        throw new ForbiddenError(`${req.method} ${req.path} signed in by cookie is started only by this node's own ` +
          `page (Sec-Fetch-Site: ${String(site)})`)
      }
      const read = req.method === 'GET' || req.method === 'HEAD'
      const shared = read ? init.sharedReads?.find(s => s.matches(req)) : undefined
      if (shared != null && (cookie.several || (carriesSessionKey(req) && !hasSessionKey(req, cookie.id)))) {
        await anyReader(req, res, sessions, shared.scope)
        next()
        return
      }
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
      let principal: Principal
      try {
        principal = await tokens.authenticate(secret)
      } catch (err) {
        if (!isErrorNamed(err, UnauthorizedError.name)) throw err
        sessions.remove(sid)
        clearSessionCookie(req, res)
        throw new UnauthorizedError(`the session ended: ${(err as Error).message}; sign in again`)
      }
      signedIn(res, sid, principal, sessions)
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
