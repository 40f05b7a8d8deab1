/**
 * One structured log line per HTTP request, with a request id (the client's
 * X-Request-Id when it is sane, else a new one) that is echoed back and put
 * on every line logged while handling the request.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../logger.js'
import type { RequestHandler, Response } from 'express'

const SANE_ID = /^[\w.:-]{1,128}$/

/** Tags each request with an id and logs its outcome (4xx/5xx at info, the rest at debug). */
export function requestLog (logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id']
    const reqId = typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID()
    res.setHeader('X-Request-Id', reqId)
    const log = logger.child({ reqId })
    res.locals.log = log
    const started = performance.now()
    res.once('finish', () => {
      const line = { method: req.method, route: (req.route as { path?: string } | undefined)?.path ?? req.path.slice(0, 200), status: res.statusCode, ms: Math.round(performance.now() - started) }
      if (res.statusCode >= 400) log.info(line, 'request')
      else log.debug(line, 'request')
    })
    next()
  }
}

/** The request's logger (tagged with its id). */
export function requestLogger (res: Response, fallback: Logger): Logger {
  return (res.locals.log as Logger | undefined) ?? fallback
}
