/**
 * POST /content: a raw body (one file), multipart/form-data (several files
 * under one directory; parts that all lie in one file or folder are stored as
 * that file or folder unless ?wrap-with-directory=true; without a name, named by
 * the one file or folder they lie in) or application/vnd.ipld.car (a CAR), streamed into
 * the blockstore. Answers 202 with the PinStatus of the new request (for a
 * CAR with several roots: {count, results}). The body is never buffered, so
 * PINERY_MAX_BODY_BYTES does not apply; quotas do. Node's whole-request
 * timeout does not either: an upload may take as long as its bytes keep
 * coming, and a pause longer than the timeout ends it with 408.
 */
import { Router, type Request, type RequestHandler } from 'express'
import { is } from 'type-is'
import { ForbiddenError, InvalidRequestError, RequestTimeoutError } from '../errors.js'
import { scopeIncludes } from '../auth/index.js'
import { principalOf, reauthenticatorOf } from './auth.js'
import { methodNotAllowed, sendFailure } from './errors.js'
import { parseMultipart } from './multipart.js'
import { pinStatusRenderer } from './pin-status.js'
import { parsePinBody } from './schemas.js'
import { Counts } from '../counts.js'
import type { ContentService, UploadEntry } from '../content/index.js'
import type { PinRecord, PinRequest, PinService } from '../pins/types.js'

/** Settings of the route. */
export interface ContentRoutesInit {
  /** An upload whose bytes stop arriving for this long fails with 408. */
  idleTimeoutMs: number
  /** Largest form field (name, meta). */
  maxFieldBytes: number
}

/** What the route needs. */
export interface ContentRoutesComponents {
  content: ContentService
  pins: Pick<PinService, 'statusDetails'>
  delegates(): string[]
  /** Sockets receiving an upload: exempt from Node's whole-request timeout while in here. */
  uploads: Pick<WeakSet<object>, 'add' | 'delete'>
}

const MAX_FILES = 100_000
/**
 * Directories a form's paths may name. Without a bound one part 256 levels deep added 255, and the
 * importer holds ~2.8 KiB for each until the end (measured: 100,000 of them, +280 MB RSS from a
 * 1.6 MB form); 20,000 is ~55 MB, more than the linux tree (~5,000) or a large node_modules.
 */
export const MAX_DIRECTORIES = 20_000
/**
 * Uploads one user may have in progress at once. Each holds its blocks in memory until it settles
 * (measured: a 10.7 MB CAR of 100,000 tiny blocks took the service from 222 to 706 MB RSS), and
 * PINERY_MAX_UPLOAD_BLOCKS bounds only one upload: without this, one member sending a few large CARs at
 * once could run the process out of memory.
 */
export const MAX_UPLOADS_PER_USER = 4
// Any valid CID: the request fields are validated by the POST /pins schema, which wants one.
const ANY_CID = 'bafkqaaa'
// The upload's kind, by its Content-Type as type-is parses it.
const isCar = (type: string): boolean => is(type, ['application/vnd.ipld.car']) !== false
const isForm = (type: string): boolean => is(type, ['multipart/form-data']) !== false

type Fields = Partial<Record<'name' | 'meta' | 'origins', string | string[]>>

/** kubo's name for `ipfs add -w` in its own /api/v0/add query (Pinata's pinataOptions.wrapWithDirectory). */
const WRAP = 'wrap-with-directory'

/**
 * `wrap-with-directory`, from the query (checked before the body is read; `curl -F file=@x
 * '…/content?wrap-with-directory=true'` reads as it does for kubo) or a form field before the files (for
 * clients that put every option in the form, as Pinata's do): true, false, or undefined when not given.
 */
function wrapWithDirectory (value: unknown, form: boolean): boolean | undefined {
  if (value == null) return undefined
  if (value !== 'true' && value !== 'false') {
    throw new InvalidRequestError('wrap-with-directory: give true or false, once')
  }
  if (value === 'true' && !form) {
    throw new InvalidRequestError('wrap-with-directory: only a form upload is wrapped (its file parts name the files)')
  }
  return value === 'true'
}

/** Validates name, meta (a JSON object) and origins as POST /pins does. */
function describe (fields: Fields): Omit<PinRequest, 'cid'> {
  const body: Record<string, unknown> = { cid: ANY_CID }
  if (fields.name != null) body.name = fields.name
  if (fields.origins != null) {
    body.origins = [fields.origins].flat().flatMap(o => o.split(',')).map(o => o.trim()).filter(o => o !== '')
  }
  if (fields.meta != null) {
    try {
      body.meta = JSON.parse(String(fields.meta)) as unknown
    } catch {
      throw new InvalidRequestError('meta: must be a JSON object of string values')
    }
  }
  const { cid: _cid, ...rest } = parsePinBody(body)
  return rest
}

/** The query's name, meta and origins; repeated names and meta are refused. */
function queryFields (req: Request): Fields {
  const q = req.query as Record<string, string | string[] | undefined>
  for (const key of ['name', 'meta'] as const) {
    if (Array.isArray(q[key])) throw new InvalidRequestError(`${key}: give it once`)
  }
  return {
    ...(q.name != null ? { name: q.name } : {}),
    ...(q.meta != null ? { meta: q.meta } : {}),
    ...(q.origins != null ? { origins: q.origins } : {})
  }
}

/**
 * Yields a form's entries, keeping in `top` the one file or folder they all lie in (null once two differ).
 * A form without a name made a nameless pin ("(no name)" among the person's named ones); Pinata and IPFS
 * Cluster name an upload by its file, and so does Pinery's page, so `curl -F file=@report.pdf` is named too.
 * `first()` runs before the first entry is yielded: the fields that come before the files are in by then.
 */
async function * notingTop (
  entries: AsyncIterable<UploadEntry>, top: { name?: string | null }, first: () => void
): AsyncGenerator<UploadEntry> {
  for await (const entry of entries) {
    const name = entry.path.split('/')[0] as string
    if (top.name === undefined) first()
    if (top.name === undefined) top.name = name
    else if (top.name !== name) top.name = null
    yield entry
  }
}

/** `fields` with `name` when they name nothing and it passes POST /pins' rule (else none: never a 400 for it). */
function withDefaultName (fields: Fields, name: string | null | undefined): Omit<PinRequest, 'cid'> {
  if (fields.name != null || name == null || name === '') return describe(fields)
  try {
    return describe({ ...fields, name })
  } catch (err) {
    if (err instanceof InvalidRequestError) return describe(fields)
    throw err
  }
}

/** The request's body, failing with 408 when no bytes arrive for `ms`. */
async function * idleGuarded (req: Request, ms: number): AsyncGenerator<Uint8Array> {
  const chunks = req[Symbol.asyncIterator]()
  for (;;) {
    let timer: NodeJS.Timeout | undefined
    const idle = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new RequestTimeoutError(`no bytes of the upload arrived for ${ms} ms`)) }, ms)
    })
    let next: IteratorResult<Uint8Array>
    try {
      next = await Promise.race([chunks.next(), idle]) as IteratorResult<Uint8Array>
    } finally {
      // Before yielding: time the consumer spends on a chunk is not the client's idleness.
      clearTimeout(timer)
    }
    if (next.done === true) return
    yield next.value
  }
}

/** Builds the router. */
export function contentRoutes (init: ContentRoutesInit, components: ContentRoutesComponents): Router {
  const { content } = components
  const router = Router()
  const status = pinStatusRenderer(components)
  const uploading = new Counts<string>()

  const upload: RequestHandler = async (req, res) => {
    const type = req.headers['content-type'] ?? ''
    if ((req.headers['content-encoding'] ?? 'identity').toLowerCase() !== 'identity') {
      res.setHeader('Connection', 'close')
      sendFailure(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send the upload without a Content-Encoding')
      return
    }
    if (/^\s*multipart\//i.test(type) && !isForm(type)) {
      res.setHeader('Connection', 'close')
      sendFailure(res, 415, 'UNSUPPORTED_MEDIA_TYPE',
        'send several files as multipart/form-data, a CAR as application/vnd.ipld.car, one file as any other type')
      return
    }
    const owner = principalOf(res).user
    const car = isCar(type)
    let fromQuery: Fields
    let wrap: boolean | undefined
    try {
      fromQuery = queryFields(req)
      wrap = wrapWithDirectory((req.query as Record<string, unknown>)[WRAP], isForm(type))
      if (!car && fromQuery.origins != null) {
        throw new InvalidRequestError('origins: only a CAR upload fetches anything, so only it takes origins')
      }
      // Checked before the body is read; form fields are checked again once they are all in.
      describe(fromQuery)
    } catch (err) {
      // Refused before reading the body: close rather than read it all.
      res.setHeader('Connection', 'close')
      throw err
    }

    if (uploading.count(owner) >= MAX_UPLOADS_PER_USER) {
      res.setHeader('Connection', 'close')
      res.setHeader('Retry-After', '10')
      sendFailure(res, 429, 'TOO_MANY_REQUESTS',
        `user ${owner} has ${MAX_UPLOADS_PER_USER} uploads in progress already, the most one user may have; ` +
        'wait for one to finish')
      return
    }
    uploading.add(owner)
    const controller = new AbortController()
    res.once('close', () => { if (!res.writableFinished) controller.abort(new Error('the client went away')) })
    const signal = controller.signal
    const body = idleGuarded(req, init.idleTimeoutMs)
    // The token is checked again once the body is in: one revoked (or whose user was deleted, the name
    // perhaps taken again) while its upload streamed recorded the upload all the same, for a new user too.
    const reauthenticate = reauthenticatorOf(res)
    const stillAllowed = async (): Promise<void> => {
      const { scope } = await reauthenticate()
      if (!scopeIncludes(scope, 'pins:add')) throw new ForbiddenError(`this token has the ${scope} scope now`)
    }
    components.uploads.add(req.socket)
    let records: PinRecord[]
    try {
      if (car) {
        records = await content.addCar(owner, body, { signal, stillAllowed, request: () => describe(fromQuery) })
      } else if (isForm(type)) {
        const form = parseMultipart(req.headers, body, {
          maxFieldBytes: init.maxFieldBytes,
          maxFiles: MAX_FILES,
          maxDirectories: MAX_DIRECTORIES,
          fields: ['name', 'meta', WRAP],
          leadingFields: [WRAP]
        })
        const request = (): Omit<PinRequest, 'cid'> => {
          const fields: Fields = {}
          for (const key of ['name', 'meta'] as const) {
            const value = form.fields.get(key)
            if (value == null) continue
            if (fromQuery[key] != null) {
              throw new InvalidRequestError(`${key}: give it as a query parameter or a form field, not both`)
            }
            fields[key] = value
          }
          return withDefaultName({ ...fromQuery, ...fields }, top.name)
        }
        const top: { name?: string | null } = {}
        const entries = notingTop(form.entries, top, () => {
          const field = wrapWithDirectory(form.fields.get(WRAP), true)
          if (field != null && wrap != null) {
            throw new InvalidRequestError(`${WRAP}: give it as a query parameter or a form field, not both`)
          }
          wrap ??= field
        })
        const options = { signal, stillAllowed, request, wrapWithDirectory: () => wrap === true }
        records = [await content.addDirectory(owner, entries, options)]
      } else {
        const length = req.headers['content-length']
        const expectedBytes = length != null && /^\d+$/.test(length) ? Number(length) : undefined
        records = [await content.addFile(owner, body, {
          signal,
          stillAllowed,
          request: () => describe(fromQuery),
          ...(expectedBytes != null ? { expectedBytes } : {})
        })]
      }
    } catch (err) {
      // The client hung up: nobody is left to answer, and nothing went wrong on our side.
      if (signal.aborted && res.destroyed) return
      // A refused upload is not read to its end: the connection closes after the answer instead.
      if (!req.complete) res.setHeader('Connection', 'close')
      throw err
    } finally {
      components.uploads.delete(req.socket)
      uploading.add(owner, -1)
    }
    res.status(202).json(records.length === 1
      ? status(records[0] as PinRecord)
      : { count: records.length, results: records.map(status) })
  }

  router.route('/content')
    .post(upload)
    .all(methodNotAllowed('POST'))
  return router
}
