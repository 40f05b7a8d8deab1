/**
 * GET /events: the caller's events as Server-Sent Events (an admin token may
 * ask for every user's with ?all=true). Resumes after Last-Event-ID or
 * ?after=; an id the log no longer holds answers 410 GONE, so the client
 * knows to list its pins again.
 */
import { Router } from 'express'
import { ForbiddenError, GoneError, InvalidRequestError } from '../errors.js'
import { scopeIncludes } from '../auth/index.js'
import { principalOf } from './auth.js'
import { requireScope } from './scopes.js'
import type { EventLog, EventStreams } from '../events/index.js'

/** What the route needs. */
export interface EventRoutesComponents {
  events: Pick<EventLog, 'isGone' | 'published'>
  streams: Pick<EventStreams, 'open'>
}

const ID = /^\d{1,16}$/

/** Builds the router (mounted after authentication). */
export function eventRoutes (components: EventRoutesComponents): Router {
  const router = Router()
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
    const given = typeof query.after === 'string' ? query.after : fromHeader
    if (given != null && !ID.test(given)) throw new InvalidRequestError('after (or Last-Event-ID) must be an event id')
    const after = given == null ? components.events.published() : Number(given)
    if (given != null && components.events.isGone(after)) {
      throw new GoneError(`event ${after} is no longer in the event log; ` +
        'list your pins again and follow new events without Last-Event-ID')
    }
    await components.streams.open(res, { after, ...(all ? {} : { user: me.user }) })
  })
  return router
}
