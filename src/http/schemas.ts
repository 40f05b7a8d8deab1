/**
 * Request validation at the edge: bodies and query strings become domain
 * types (PinRequest, PinQuery) or an InvalidRequestError naming the field.
 */
import { z } from 'zod'
import { InvalidRequestError } from '../errors.js'
import { parseCid } from '../pins/cid.js'
import { PIN_STATES, type PinQuery, type PinRequest } from '../pins/types.js'
import { checkOrigin, parseMultiaddr, trailingPeerId } from '../node/multiaddrs.js'
import { parseTimestamp } from './timestamps.js'
import { EVENT_TYPES } from '../events/index.js'
import type { StreamFilter } from '../events/stream-filter.js'

const MAX_NAME = 255
const MAX_ORIGINS = 20
const MAX_META = 1000
// Meta is kept in memory for every request (the index filters on it): bounded per request.
const MAX_META_KEY = 255
const MAX_META_VALUE = 4096
const MAX_META_BYTES = 16 * 1024
const MAX_CIDS = 10
// Checked before decoding: base58/base36/base10 decoding is quadratic, so a 1 MB CID or peer ID
// would block the event loop for minutes. Far above any real CID (a 128-byte identity CID in
// base2 is ~1,100 characters) or multiaddr.
const MAX_CID_CHARS = 2048
const MAX_ORIGIN_CHARS = 1024

const cidString = z.string().superRefine((v, ctx) => {
  if (v.length > MAX_CID_CHARS) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_CID_CHARS} characters` })
    return
  }
  if (v.trim() === '' || /\s/.test(v)) {
    ctx.addIssue({ code: 'custom', message: v.trim() === '' ? 'must not be empty' : 'must not contain spaces' })
    return
  }
  try { parseCid(v) } catch (err) { ctx.addIssue({ code: 'custom', message: (err as Error).message }) }
})

const nameString = z.string().refine(v => [...v].length <= MAX_NAME, `must be at most ${MAX_NAME} characters`)

/**
 * What a pin's name may not hold: control characters (C0, DEL, C1: `ipfs pin remote ls` prints names to
 * a terminal as they are, escapes included) and the bidirectional overrides and isolates, which make a
 * name read as another. Other format characters stay: the zero-width joiner is part of many emoji.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const NAME_UNSAFE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u

/** A new pin's name (POST /pins, replace, uploads); names stored before this rule stay as they are. */
const pinName = nameString.refine(v => !NAME_UNSAFE.test(v),
  'must not contain control characters or bidirectional overrides')

/**
 * Whether a body's name breaks only the rule for new names: a replace that sends back the request's own stored
 * name (the web app's Replace, Retry and Restart send the pin as it is) keeps that name, it does not name anew.
 */
export function holdsUnsafeName (body: unknown): boolean {
  return isObject(body) && typeof body.name === 'string' && NAME_UNSAFE.test(body.name)
}

/**
 * Origins accepted lately: a client pinning many CIDs names the same few origins in every
 * request, and parsing one (multiaddr, peer ID) was ~10 % of validating a POST in bench:many.
 */
const acceptedOrigins = new Set<string>()
const ACCEPTED_ORIGINS_MAX = 1024

const origin = z.string().superRefine((v, ctx) => {
  if (acceptedOrigins.has(v)) return
  if (v.length > MAX_ORIGIN_CHARS) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_ORIGIN_CHARS} characters` })
    return
  }
  try {
    const ma = parseMultiaddr(v)
    if (trailingPeerId(ma) == null) {
      ctx.addIssue({ code: 'custom', message: `"${v}" must end with /p2p/<peerId>` })
      return
    }
    checkOrigin(v, ma)
    if (acceptedOrigins.size >= ACCEPTED_ORIGINS_MAX) acceptedOrigins.clear()
    acceptedOrigins.add(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

// Checked by hand and passed through as given: z.record silently drops a "__proto__" key,
// which is a legal meta key that must be echoed and matched like any other.
const isObject = (v: unknown): v is Record<string, unknown> => v != null && typeof v === 'object' && !Array.isArray(v)
const metaObject = z.custom<Record<string, string>>(isObject, 'must be an object of string values')
  .superRefine((m, ctx) => {
    if (!isObject(m)) return
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string') ctx.addIssue({ code: 'custom', path: [k], message: 'meta values must be strings' })
    }
    if (Object.keys(m).length > MAX_META) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_META} entries` })
      return
    }
    if (Object.values(m).some(v => typeof v !== 'string')) return
    const long = Object.entries(m)
      .find(([k, v]) => [...k].length > MAX_META_KEY || [...(v as string)].length > MAX_META_VALUE)
    if (long != null) {
      const message = `keys must be at most ${MAX_META_KEY} characters and values at most ${MAX_META_VALUE} ` +
        `(${JSON.stringify(long[0].slice(0, 40))} is longer)`
      ctx.addIssue({ code: 'custom', message })
    } else if (Buffer.byteLength(JSON.stringify(m)) > MAX_META_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_META_BYTES} bytes as JSON` })
    }
  })

const pinBody = z.object({
  cid: cidString,
  name: pinName.nullish(),
  origins: z.array(origin).max(MAX_ORIGINS, `must have at most ${MAX_ORIGINS} entries`)
    .refine(a => new Set(a).size === a.length, 'must not repeat an address').nullish(),
  meta: metaObject.nullish()
})
/** A replace keeping the request's stored name: only the length rule, which held when the name was stored too. */
const keptNameBody = pinBody.extend({ name: nameString.nullish() })

/**
 * One line naming each field a body got wrong, as `origins[0]: …; name: …`: every route's 400 reads alike,
 * and a list entry is named as people write it (zod's own path joined by dots read `origins.0`).
 */
export function describeIssues (error: z.ZodError): string {
  return error.issues.map(i => {
    const where = i.path.length > 0
      ? i.path.map((k, n) => typeof k === 'number' ? `[${k}]` : `${n > 0 ? '.' : ''}${String(k)}`).join('')
      : 'body'
    const message = i.code === 'invalid_type' && /received undefined/.test(i.message) ? 'is required' : i.message
    return `${where}: ${message}`
  }).join('; ')
}

/**
 * Validates a Pin body (POST /pins, POST /pins/{requestid}); unknown fields are ignored. `storedName`, on a
 * replace: the name the request holds now, which the body may send back although a new name could not be it.
 */
export function parsePinBody (body: unknown, storedName?: string): PinRequest {
  if (body == null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('the body must be a JSON object like {"cid": "..."}')
  }
  const keeps = storedName != null && (body as { name?: unknown }).name === storedName
  const parsed = (keeps ? keptNameBody : pinBody).safeParse(body)
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error))
  const { cid, name, origins, meta } = parsed.data
  return {
    cid,
    ...(name != null ? { name } : {}),
    ...(origins != null ? { origins } : {}),
    ...(meta != null ? { meta } : {})
  }
}

function list (v: string): string[] {
  return v.split(',').map(s => s.trim())
}

/** A query value as one string (a repeated parameter joined like a comma list); anything else as given. */
function joined (v: unknown): unknown {
  return Array.isArray(v) && v.every(x => typeof x === 'string') ? v.join(',') : v
}

const query = z.object({
  cid: z.string().transform(list)
    .pipe(z.array(cidString).min(1).max(MAX_CIDS, `must list at most ${MAX_CIDS} CIDs`)).optional(),
  name: nameString.optional(),
  match: z.enum(['exact', 'iexact', 'partial', 'ipartial']).default('exact'),
  status: z.string().transform(list).pipe(z.array(z.enum(PIN_STATES)).min(1)).optional(),
  before: z.string().transform((v, ctx) => parseTimestamp(v, 'before', ctx)).optional(),
  after: z.string().transform((v, ctx) => parseTimestamp(v, 'after', ctx)).optional(),
  limit: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number)
    .pipe(z.number().min(1).max(1000, 'must be at most 1000')).default(10),
  meta: z.string().transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a URL-escaped JSON object' })
      return z.NEVER
    }
  }).pipe(metaObject).optional()
})

/**
 * Validates the query of GET /pins. Repeated parameters are joined like a
 * comma list. `meta` is accepted as the spec's URL-escaped JSON object and,
 * because the official JS client serialises objects that way, as
 * `meta[key]=value` pairs.
 */
export function parsePinQuery (raw: Record<string, unknown>): PinQuery {
  const flat: Record<string, unknown> = {}
  // meta[__proto__] is a key too
  const metaPairs: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [k, v] of Object.entries(raw)) {
    const value = joined(v)
    const bracket = /^meta\[(.+)\]$/.exec(k)
    if (bracket != null) metaPairs[bracket[1] as string] = value
    else flat[k] = value
  }
  if (Object.keys(metaPairs).length > 0) {
    if (flat.meta != null) {
      throw new InvalidRequestError('meta: give either meta=<JSON object> or meta[key]=value, not both')
    }
    flat.meta = JSON.stringify(metaPairs)
  }
  const parsed = query.safeParse(flat)
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error))
  const q = parsed.data
  return {
    match: q.match,
    limit: q.limit,
    statuses: q.status ?? ['pinned'],
    ...(q.cid != null ? { cids: [...new Set(q.cid)] } : {}),
    ...(q.name != null ? { name: q.name } : {}),
    ...(q.before != null ? { before: q.before.ceil } : {}),
    ...(q.after != null ? { after: q.after.floor } : {}),
    ...(q.meta != null ? { meta: q.meta } : {})
  }
}

/** Requests one event stream may follow (`?requestid=a,b,…`), as GET /pins takes at most 10 CIDs. */
export const MAX_STREAM_REQUESTS = 10

const eventQuery = z.object({
  types: z.string().transform(list).pipe(z.array(z.enum(EVENT_TYPES)).min(1)).optional(),
  requestid: z.string().transform(list).pipe(z.array(z.string().regex(/^[\x21-\x7e]{1,128}$/, 'is malformed'))
    .min(1).max(MAX_STREAM_REQUESTS, `must list at most ${MAX_STREAM_REQUESTS} requests`)).optional()
})

/**
 * Validates GET /events' narrowing: `types` (event types) and `requestid` (the requests to follow), each a comma
 * list, repeated parameters joined like one. The route's own parameters (after, all) are checked there.
 */
export function parseEventFilter (raw: Record<string, unknown>): StreamFilter | undefined {
  const flat = { types: joined(raw.types), requestid: joined(raw.requestid) }
  const parsed = eventQuery.safeParse(flat)
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error))
  const { types, requestid } = parsed.data
  if (types == null && requestid == null) return undefined
  return {
    ...(types != null ? { types: new Set(types) } : {}),
    ...(requestid != null ? { requests: new Set(requestid) } : {})
  }
}
