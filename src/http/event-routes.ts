/**
 * GET /events: the caller's events as Server-Sent Events (an admin token may
 * ask for every user's with ?all=true). Resumes after Last-Event-ID or
 * ?after=; an id the log no longer holds answers 410 GONE, so the client
 * knows to list its pins again. `?types=` and `?requestid=` narrow a stream to
 * some event types and to some requests (and their replacements).
 */
import { Router } from 'express'
import { ForbiddenError, GoneError, InvalidRequestError, isErrorNamed, UnauthorizedError } from '../errors.js'
import { scopeIncludes } from '../auth/index.js'
import { principalOf, reauthenticatorOf } from './auth.js'
import { requireScope } from './scopes.js'
import { sendFailure } from './errors.js'
import { parseEventFilter } from './schemas.js'
import { Counts } from '../counts.js'
import type { EventLog, EventStreams } from '../events/index.js'
import type { Team } from '../team/index.js'
import type { Principal, TokenStore } from '../auth/index.js'
import type { Response } from 'express'

/** What the route needs. */
export interface EventRoutesComponents {
  events: Pick<EventLog, 'isGone' | 'published'>
  streams: Pick<EventStreams, 'open'>
  /** The caller's user, for when it was created. */
  team: Pick<Team, 'getUser'>
  /** Revocations end the streams their tokens opened. */
  tokens: Pick<TokenStore, 'onRevoke'>
}

const ID = /^\d{1,16}$/
/**
 * Event streams one user may hold open. Each is a socket kept for good (heartbeats keep it alive),
 * so without a bound one member could hold thousands and run the process out of file descriptors,
 * which its blockstore needs too. A browser opens at most six connections per host over HTTP/1.1.
 */
export const MAX_STREAMS_PER_USER = 32

/**
 * How often an open stream's credentials are authenticated again: a token that expired, a session
 * signed out or ended, a user no longer admin (?all=true) ends the stream within this long. A revoked
 * token's streams (a deleted user's among them) end at once, before the revocation answers.
 */
export const STREAM_RECHECK_MS = 5_000

/**
 * Ends `res` once its request's access is gone. Before, a stream was authenticated only when it opened:
 * a revoked token kept receiving its user's events for as long as its socket lived, and went on to a new
 * user of the same name's events once the old user was deleted.
 */
function endWithAccess (
  res: Response, me: Principal, need: 'pins:read' | 'admin', revoked: Map<string, Set<Response>>
): void {
  const key = `${me.user}/${me.tokenId}`
  const held = revoked.get(key) ?? new Set<Response>()
  revoked.set(key, held.add(res))
  const reauthenticate = reauthenticatorOf(res)
  const recheck = (): void => {
    reauthenticate().then(p => { if (!scopeIncludes(p.scope, need)) res.destroy() }, (err: unknown) => {
      // A datastore being reopened (a full disk) is no reason to drop a stream whose access may well hold.
      if (isErrorNamed(err, UnauthorizedError.name)) res.destroy()
    })
  }
  const timer = setInterval(recheck, STREAM_RECHECK_MS).unref()
  res.once('close', () => {
    clearInterval(timer)
    held.delete(res)
    if (held.size === 0) revoked.delete(key)
  })
  // A revocation between the request's authentication and this registration is caught here.
  recheck()
}

/** Builds the router (mounted after authentication). */
export function eventRoutes (components: EventRoutesComponents): Router {
  const router = Router()
  const open = new Counts<string>()
  const streamsOf = new Map<string, Set<Response>>()
  components.tokens.onRevoke((user, ids) => {
    for (const id of ids) for (const res of streamsOf.get(`${user}/${id}`) ?? []) res.destroy()
  })
  router.get('/events', requireScope('pins:read'), async (req, res) => {
    const me = principalOf(res)
    const query = req.query as Record<string, unknown>
    if (query.all != null && query.all !== 'true' && query.all !== 'false') {
      throw new InvalidRequestError('all must be true or false')
    }
    const all = query.all === 'true'
    if (all && !scopeIncludes(me.scope, 'admin')) {
      throw new ForbiddenError(`this token has the ${me.scope} scope; all=true needs admin`)
    }
    const header = req.headers['last-event-id']
    const fromHeader = typeof header === 'string' && header !== '' ? header : undefined
    // Given twice it is refused, not ignored: ignored, the stream began at the newest event, skipping the gap.
    const given = query.after != null ? query.after : fromHeader
    if (given != null && (typeof given !== 'string' || !ID.test(given))) {
      throw new InvalidRequestError('after (or Last-Event-ID) must be one event id')
    }
    const filter = parseEventFilter(query)
    const after = given == null ? components.events.published() : Number(given)
    if (given != null && components.events.isGone(after)) {
      throw new GoneError(`event ${after} is no longer in the event log; ` +
        'list your pins again and follow new events without Last-Event-ID')
    }
    // Before the count is checked: the check and the count's increment must not be split by an await.
    const since = all ? undefined : (await components.team.getUser(me.user)).created
    const held = open.count(me.user)
    if (held >= MAX_STREAMS_PER_USER) {
      res.setHeader('Retry-After', '10')
      sendFailure(res, 429, 'TOO_MANY_REQUESTS',
        `user ${me.user} has ${held} event streams open already; close one (at most ${MAX_STREAMS_PER_USER})`)
      return
    }
    open.add(me.user)
    res.once('close', () => { open.add(me.user, -1) })
    endWithAccess(res, me, all ? 'admin' : 'pins:read', streamsOf)
    const scope = all ? {} : { user: me.user, ...(since != null ? { since } : {}) }
    await components.streams.open(res, { after, ...scope, ...(filter != null ? { filter } : {}) })
  })
  return router
}
