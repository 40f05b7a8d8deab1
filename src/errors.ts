/**
 * Typed errors shared by every layer. Each carries a stable `name` (also as a
 * static, so callers match by name rather than by `instanceof` across module
 * copies) and the HTTP error handler maps those names to status + reason.
 */

/** Input failed validation; `details` says which field and why. */
export class InvalidRequestError extends Error {
  static override name = 'InvalidRequestError'
  override name = InvalidRequestError.name
}

/** No, malformed, unknown or revoked credentials. */
export class UnauthorizedError extends Error {
  static override name = 'UnauthorizedError'
  override name = UnauthorizedError.name
}

/** The token is valid but its access level does not allow the request. */
export class ForbiddenError extends Error {
  static override name = 'ForbiddenError'
  override name = ForbiddenError.name
}

/** The resource does not exist, or belongs to someone else. */
export class NotFoundError extends Error {
  static override name = 'NotFoundError'
  override name = NotFoundError.name
}

/** The user has as many requests waiting for a fetch as one user may (409 TOO_MANY_PENDING). */
export class TooManyPendingError extends Error {
  static override name = 'TooManyPendingError'
  override name = TooManyPendingError.name
}

/** The content exists but cannot be given in the representation asked for (406 NOT_ACCEPTABLE). */
export class NotAcceptableError extends Error {
  static override name = 'NotAcceptableError'
  override name = NotAcceptableError.name
}

/** A request body exceeded the configured size limit. */
export class PayloadTooLargeError extends Error {
  static override name = 'PayloadTooLargeError'
  override name = PayloadTooLargeError.name
}

/** The request would take the user past a quota; `details` names the limit (409 INSUFFICIENT_FUNDS). */
export class InsufficientFundsError extends Error {
  static override name = 'InsufficientFundsError'
  override name = InsufficientFundsError.name
}

/** The request conflicts with what is stored (e.g. deleting a user who still has pins). */
export class ConflictError extends Error {
  static override name = 'ConflictError'
  override name = ConflictError.name
}

/** A configuration value cannot be used; the message is one line for operators. */
export class ConfigError extends Error {
  static override name = 'ConfigError'
  override name = ConfigError.name
}

/** The data dir is held by another process (LevelDB allows one). */
export class DataDirLockedError extends Error {
  static override name = 'DataDirLockedError'
  override name = DataDirLockedError.name
}

/**
 * The data dir could not be written (disk full, I/O error): nothing of the
 * request was stored. Answered 507 so clients can tell it from a bug.
 */
export class StorageFailedError extends Error {
  static override name = 'StorageFailedError'
  override name = StorageFailedError.name
}

/**
 * A sync of block files failed (EIO) since the caller began relying on blocks: the files it covered were
 * dropped (src/node/untrusted-files.ts says why), so what the caller stored or found must be stored again.
 */
export class BlocksLostError extends Error {
  static override name = 'BlocksLostError'
  override name = BlocksLostError.name
}

/** A pin made no progress for longer than the stall timeout. */
export class StallError extends Error {
  static override name = 'StallError'
  override name = StallError.name
}

/** Returns true when `err` is an Error whose name is `name`. */
export function isErrorNamed (err: unknown, name: string): err is Error {
  return err instanceof Error && err.name === name
}

/** An error and its causes, outermost first, at most 10 (datastore-level wraps classic-level's errors twice). */
export function causeChain (err: unknown): Array<{ name?: string, code?: string, message?: string }> {
  const chain: Array<{ name?: string, code?: string, message?: string, cause?: unknown }> = []
  for (let e = err as { cause?: unknown } | undefined; e != null && chain.length < 10; e = e.cause as typeof e) {
    chain.push(e)
  }
  return chain
}

/**
 * Whether `err` or a cause says the disk is full. datastore-level and blockstore-fs wrap such errors
 * with only their message kept, so the message counts as well as the code.
 */
export function diskFull (err: unknown): boolean {
  return causeChain(err).some(e => e.code === 'ENOSPC' || e.code === 'EDQUOT' ||
    /\b(ENOSPC|EDQUOT)\b|No space left on device/.test(e.message ?? ''))
}

/** The body of a request stopped arriving for longer than the request timeout (408). */
export class RequestTimeoutError extends Error {
  static override name = 'RequestTimeoutError'
  override name = RequestTimeoutError.name
}

/** Asked for something that existed but is kept no longer (an event older than the log's window): 410. */
export class GoneError extends Error {
  static override name = 'GoneError'
  override name = GoneError.name
}
