/**
 * The one HTTP error handler: typed errors (matched by name) and body-parser
 * errors become the spec's Failure body; anything else is logged and
 * answered as a 500 that leaks nothing.
 */
import {
  ConflictError, ForbiddenError, GoneError, InsufficientFundsError, InvalidRequestError, NotAcceptableError,
  NotFoundError, PayloadTooLargeError, RequestTimeoutError, StorageFailedError, TooManyPendingError,
  UnauthorizedError, causeChain, diskFull
} from '../errors.js'
import { requestLogger } from './request-log.js'
import type { Logger } from '../logger.js'
import type { ErrorRequestHandler, RequestHandler, Response } from 'express'

/** Sends `{"error":{"reason","details"}}` with `status`. */
export function sendFailure (res: Response, status: number, reason: string, details: string): void {
  res.status(status).json({ error: { reason, details } })
}

/** The 405 of a route for any other method: `allow` goes in the Allow header, `use` in the details. */
export function methodNotAllowed (allow: string, use = allow): RequestHandler {
  return (req, res) => {
    res.setHeader('Allow', allow)
    sendFailure(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${use}`)
  }
}

const BY_NAME: Record<string, { status: number, reason: string }> = {
  [InvalidRequestError.name]: { status: 400, reason: 'BAD_REQUEST' },
  [UnauthorizedError.name]: { status: 401, reason: 'UNAUTHORIZED' },
  [ForbiddenError.name]: { status: 403, reason: 'FORBIDDEN' },
  [NotFoundError.name]: { status: 404, reason: 'NOT_FOUND' },
  [NotAcceptableError.name]: { status: 406, reason: 'NOT_ACCEPTABLE' },
  [ConflictError.name]: { status: 409, reason: 'CONFLICT' },
  [InsufficientFundsError.name]: { status: 409, reason: 'INSUFFICIENT_FUNDS' },
  [TooManyPendingError.name]: { status: 409, reason: 'TOO_MANY_PENDING' },
  [GoneError.name]: { status: 410, reason: 'GONE' },
  [PayloadTooLargeError.name]: { status: 413, reason: 'PAYLOAD_TOO_LARGE' },
  [RequestTimeoutError.name]: { status: 408, reason: 'REQUEST_TIMEOUT' }
}

/**
 * Whether `err` (or a cause) says the disk is full or the datastore cannot be written: 507, not a 500 that
 * reads like a bug (a wrapped error may keep only its message).
 */
function storageFailed (err: unknown): boolean {
  return diskFull(err) || causeChain(err).some(e => e.name === StorageFailedError.name ||
    // Closed while it is opened again after a failed write (write-guard.ts), or while stopping.
    e.code === 'LEVEL_DATABASE_NOT_OPEN' || /\bStorageFailedError\b/.test(e.message ?? ''))
}

/**
 * A failed write's 507 cannot say it was not stored: a record write whose fsync failed is whole in LevelDB's
 * log and may be there after the reopen or a restart (src/node/write-guard.ts; the service then exits 70 and
 * starts again from the records), as a write cut off by a crash between it and its answer may be. Only a
 * re-list tells (test/record-sync-eio.test.ts).
 */
const WRITE_507 = 'the service\'s disk is full or failing, and the request may or may not have been stored ' +
  '(the service may restart to recover): list your pins (GET /pins) to see before sending it again'
const READ_507 = 'the service\'s disk is full or failing; try again later'

// body-parser marks its errors with a `type`.
const BODY_PARSER: Record<string, { status: number, reason: string, details: string }> = {
  'entity.parse.failed': { status: 400, reason: 'BAD_REQUEST', details: 'the body is not valid JSON' },
  'entity.too.large': {
    status: 413, reason: 'PAYLOAD_TOO_LARGE', details: 'the body is larger than the service accepts'
  },
  'encoding.unsupported': { status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE', details: 'unsupported content encoding' },
  'charset.unsupported': {
    status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE', details: 'unsupported charset; send UTF-8 JSON'
  },
  'request.aborted': { status: 400, reason: 'BAD_REQUEST', details: 'the request was aborted' },
  'request.size.invalid': {
    status: 400, reason: 'BAD_REQUEST', details: 'the body is shorter or longer than its Content-Length'
  }
}

/** Builds the error-handling middleware (mount it last). */
export function errorHandler (logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const e = err as Error & { type?: string, status?: number }
    const known = e instanceof Error ? BY_NAME[e.name] : undefined
    if (known != null) {
      if (known.status === 401) res.setHeader('WWW-Authenticate', 'Bearer')
      sendFailure(res, known.status, known.reason, e.message)
      return
    }
    const parser = e?.type != null ? BODY_PARSER[e.type] : undefined
    if (parser != null) {
      sendFailure(res, parser.status, parser.reason, parser.details)
      return
    }
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      sendFailure(res, e.status, 'BAD_REQUEST', 'the request could not be read')
      return
    }
    if (storageFailed(err)) {
      requestLogger(res, logger).error({ err, method: req.method, path: req.path }, 'storage failed')
      const reading = req.method === 'GET' || req.method === 'HEAD'
      sendFailure(res, 507, 'INSUFFICIENT_STORAGE', reading ? READ_507 : WRITE_507)
      return
    }
    // Through the request's logger, so the line carries the request id the client was given.
    requestLogger(res, logger).error({ err, method: req.method, path: req.path }, 'unhandled error')
    sendFailure(res, 500, 'INTERNAL_SERVER_ERROR', 'an unexpected error occurred; it has been logged')
  }
}
