/**
 * GET and HEAD /ipfs/{cid}[/path] over pinned content, following the
 * trustless gateway conventions: `Accept: application/vnd.ipld.raw` or
 * `?format=raw` answers the single block, `application/vnd.ipld.car` or
 * `?format=car` a CARv1 of the DAG (streamed, depth-first); otherwise a
 * file's bytes (Range, 206/416), a directory as a JSON listing, a
 * dag-cbor/dag-json/json node as its block. ETags are the CID (with .raw or
 * .car for those formats), so If-None-Match answers 304. `?filename=` (and
 * `download=true`) name the answer in Content-Disposition, as the path
 * gateway spec says.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { Router, type Request, type RequestHandler, type Response } from 'express'
import toBuffer from 'it-to-buffer'
import { InvalidRequestError } from '../errors.js'
import { parseCid } from '../pins/cid.js'
import { NAME_UNSAFE } from './schemas.js'
import { mediaType, SNIFF_BYTES } from '../content/media-type.js'
import { methodNotAllowed, sendFailure } from './errors.js'
import { requestLogger } from './request-log.js'
import { parseRange } from './range.js'
import type { BodyWriter, Gateway, GatewayEntry } from '../content/index.js'
import type { Logger } from '../logger.js'
import type { CID } from 'multiformats/cid'

/** Settings of the gateway routes. */
export interface GatewayRoutesInit {
  /** True when anyone may read (no token): responses may then sit in shared caches. */
  public: boolean
  /**
   * A body whose client takes no bytes for this long is cut off. Each held ~8.5 MiB (read-ahead
   * slots, batches) for as long as its client kept the connection without reading: measured, 60
   * such GETs held 511 MB, and nothing ended them.
   */
  idleTimeoutMs: number
}

/** What the routes read with. */
export interface GatewayRoutesComponents {
  gateway: Gateway
  logger: Logger
}

type Format = 'raw' | 'car' | 'unixfs'

const MAX_CID_CHARS = 2048
// How a write to a response whose client went away fails.
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'EPIPE', 'ECONNRESET', 'ECANCELED'])
const RAW_TYPE = 'application/vnd.ipld.raw'
const CAR_TYPE = 'application/vnd.ipld.car'
const OBJECT_TYPES = new Map<number, string>([
  [dagCbor.code, 'application/vnd.ipld.dag-cbor'],
  [dagJson.code, 'application/vnd.ipld.dag-json'],
  [0x0200, 'application/json']
])

// Stands for the deserialized answer in content negotiation: listed first, it wins every tie, so
// only an Accept header that names an IPLD type (more specifically or with a higher q) gets one.
const DESERIALIZED = 'application/octet-stream'

/** ?format= wins; else the IPLD type the Accept header prefers (Express's req.accepts); else deserialized. */
function formatOf (req: Request): Format {
  const format = req.query.format
  if (format != null) {
    if (format === 'raw' || format === 'car') return format
    throw new InvalidRequestError('format: must be raw or car')
  }
  const best = req.accepts([DESERIALIZED, RAW_TYPE, CAR_TYPE])
  return best === RAW_TYPE ? 'raw' : best === CAR_TYPE ? 'car' : 'unixfs'
}

const MAX_FILENAME_CHARS = 255

/**
 * The answer's `Content-Disposition` for the path gateway spec's `filename` query parameter (and
 * `download=true`, which makes it an attachment), as kubo's gateway answers them: the name a browser saves it
 * under, from its PDF viewer or Save as, instead of the CID. `fallback`: the attachment name without one.
 * Hand-written: Express's res.attachment() writes only `attachment` and sets Content-Type from the name.
 */
function dispositionOf (req: Request, fallback?: string): string | undefined {
  const { filename, download } = req.query
  if (download != null && download !== 'true' && download !== 'false') {
    throw new InvalidRequestError('download: must be true or false')
  }
  if (filename == null) return fallback == null ? undefined : `attachment; filename="${fallback}"`
  if (typeof filename !== 'string' || filename === '' || [...filename].length > MAX_FILENAME_CHARS ||
    NAME_UNSAFE.test(filename)) {
    // As a pin's name: CR/LF would end the header, and an override makes `invoice<U+202E>fdp.exe` read as a pdf.
    throw new InvalidRequestError(`filename: 1 to ${MAX_FILENAME_CHARS} characters, without control characters ` +
      'or bidirectional overrides')
  }
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  // RFC 8187's attr-char: encodeURIComponent leaves ' ( ) * as they are, which it does not allow.
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  const kind = download === 'true' || fallback != null ? 'attachment' : 'inline'
  return `${kind}; filename="${ascii}"${ascii === filename ? '' : `; filename*=UTF-8''${encoded}`}`
}

/**
 * True when the client's cached copy (If-None-Match) is this one. Kept instead of Express's req.fresh, which
 * calls any request with `Cache-Control: no-cache` stale: fetch() adds that header to every request carrying
 * If-None-Match (Fetch standard, HTTP-network-or-cache fetch), so req.fresh answered 200 where
 * test/http/gateway.test.ts expects 304 (measured). An origin server may answer 304 to it (RFC 9111 §5.2.1.4).
 */
function fresh (req: Request, etag: string): boolean {
  const given = req.headers['if-none-match']
  if (given == null) return false
  return given.trim() === '*' || given.split(',').some(t => t.trim().replace(/^W\//, '') === etag)
}

function rootOf (value: unknown): CID {
  if (typeof value !== 'string' || value.length > MAX_CID_CHARS) {
    throw new InvalidRequestError('the path must start /ipfs/<cid>')
  }
  try {
    return parseCid(value)
  } catch (err) {
    throw new InvalidRequestError((err as Error).message)
  }
}

/**
 * Writes `chunk` to the response; resolves once it has been handed to the socket (its buffer may
 * then be reused). A response whose client is gone may never call back: writers race their abort
 * signal (aborted on the response's 'close').
 */
async function written (res: Response, chunk: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    res.write(chunk, (err) => { if (err != null) reject(err); else resolve() })
  })
}

/** Whether a request is for the gateway's routes (routing ignores case: /IPFS/… is /ipfs/…). */
export function isGatewayPath (req: Request): boolean {
  return req.path.toLowerCase().startsWith('/ipfs/')
}

/** Builds the router. */
export function gatewayRoutes (init: GatewayRoutesInit, components: GatewayRoutesComponents): Router {
  const { gateway } = components
  const router = Router()
  const cacheControl = `${init.public ? 'public' : 'private'}, max-age=29030400, immutable`

  /** Sends headers, then the body unless HEAD or 304. */
  async function send (
    req: Request,
    res: Response,
    etag: string,
    headers: Record<string, string | number>,
    body: () => Uint8Array | BodyWriter,
    status = 200
  ): Promise<void> {
    res.setHeader('ETag', etag)
    res.setHeader('Cache-Control', cacheControl)
    res.setHeader('Vary', 'Accept')
    if (fresh(req, etag)) { res.status(304).end(); return }
    res.status(status)
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
    const named = headers['Content-Disposition'] == null ? dispositionOf(req) : undefined
    if (named != null) res.setHeader('Content-Disposition', named)
    if (req.method === 'HEAD') { res.end(); return }
    // No progress at all (the socket neither sends nor receives) for this long: the client is not reading.
    res.setTimeout(init.idleTimeoutMs, () => { res.destroy() })
    const content = body()
    if (content instanceof Uint8Array) { res.end(content); return }
    try {
      await content.write({ write: async (chunk) => { await written(res, chunk) } })
      res.end()
    } catch (err) {
      const gone = req.socket.destroyed
      // Headers are out: the only way left to say "this is broken" is to cut the connection.
      if (!res.destroyed) res.destroy()
      const e = err as NodeJS.ErrnoException
      if (gone || e.name === 'AbortError' || CLIENT_GONE.has(e.code ?? '')) return // the client went away
      // Only the error's kind: a decoder's message can quote the block's bytes.
      requestLogger(res, components.logger).warn({ error: e.name, code: e.code }, 'gateway response ended early')
    }
  }

  const read: RequestHandler = async (req, res) => {
    // First, so every answer has it, errors too (their details quote the path): user content and what
    // names it share the API's origin, so no scripts, no forms, no plugins (and no sniffing: app.ts).
    res.setHeader('Content-Security-Policy', 'sandbox')
    const controller = new AbortController()
    res.once('close', () => { controller.abort() })
    try {
      await answer(req, res, { signal: controller.signal })
    } catch (err) {
      // The client went away before its answer began: nobody to answer, nothing to log.
      if (controller.signal.aborted && err instanceof Error && err.name === 'AbortError') return
      throw err
    }
  }

  async function answer (req: Request, res: Response, options: { signal: AbortSignal }): Promise<void> {
    const root = rootOf(req.params.cid)
    const path = (req.params.path as string[] | undefined) ?? []
    const format = formatOf(req)
    dispositionOf(req) // a bad filename or download is refused before anything is read
    const { entry, trail } = await gateway.resolve(root, path, { ...options, raw: format === 'raw' })
    res.setHeader('X-Ipfs-Path', `/ipfs/${[req.params.cid as string, ...path].map(encodeURIComponent).join('/')}`)

    if (format === 'raw') {
      // Resolved without a path, the block was read already: not read twice.
      const bytes = entry.type === 'object' ? entry.bytes : await gateway.block(entry.cid, options)
      await send(req, res, `"${entry.cid.toString()}.raw"`, {
        'Content-Type': RAW_TYPE,
        'Content-Length': bytes.byteLength,
        'Content-Disposition': dispositionOf(req, `${entry.cid.toString()}.bin`) as string
      }, () => bytes)
      return
    }
    if (format === 'car') {
      // Checked before any header: a target that cannot be walked is answered 406, not cut off.
      const car = await gateway.car(root, trail, entry.cid, options)
      await send(req, res, `"${entry.cid.toString()}.car"`, {
        'Content-Type': `${CAR_TYPE}; version=1; order=dfs; dups=n`,
        'Content-Disposition': dispositionOf(req, `${entry.cid.toString()}.car`) as string
      }, () => car)
      return
    }
    await sendEntry(req, res, entry, options)
  }

  async function sendEntry (
    req: Request,
    res: Response,
    entry: GatewayEntry,
    options: { signal: AbortSignal }
  ): Promise<void> {
    const etag = `"${entry.cid.toString()}"`
    if (entry.type === 'object') {
      await send(req, res, etag, {
        'Content-Type': OBJECT_TYPES.get(entry.cid.code) ?? RAW_TYPE,
        'Content-Length': entry.bytes.byteLength
      }, () => entry.bytes)
      return
    }
    if (entry.type === 'directory') {
      const entries = []
      for await (const child of entry.list(options)) {
        entries.push({ name: child.name, cid: child.cid.toString(), size: child.size })
      }
      const body = Buffer.from(JSON.stringify({ cid: entry.cid.toString(), type: 'directory', entries }))
      await send(req, res, `"${entry.cid.toString()}.dir"`, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': body.byteLength
      }, () => body)
      return
    }
    const { size } = entry
    const head = size === 0
      ? new Uint8Array(0)
      : await toBuffer(entry.read({ offset: 0, length: Math.min(size, SNIFF_BYTES) }, options))
    res.setHeader('Accept-Ranges', 'bytes')
    // If-Range with another validator: the client's partial copy is stale, so send it all.
    const ifRange = req.headers['if-range']
    const range = ifRange == null || ifRange === etag ? parseRange(req.headers.range, size) : undefined
    if (range === 'unsatisfiable' && !fresh(req, etag)) {
      res.setHeader('Content-Range', `bytes */${size}`)
      sendFailure(res, 416, 'RANGE_NOT_SATISFIABLE', `the file has ${size} bytes`)
      return
    }
    const { offset, length } = range == null || range === 'unsatisfiable' ? { offset: 0, length: size } : range
    const headers: Record<string, string | number> = {
      'Content-Type': mediaType(entry.name, head),
      'Content-Length': length
    }
    const partial = range != null && range !== 'unsatisfiable'
    if (partial) headers['Content-Range'] = `bytes ${offset}-${offset + length - 1}/${size}`
    const body = (): BodyWriter | Uint8Array =>
      length === 0 ? new Uint8Array(0) : entry.body({ offset, length }, options)
    await send(req, res, etag, headers, body, partial ? 206 : 200)
  }

  router.route('/ipfs/:cid{/*path}')
    .get(read)
    .all(methodNotAllowed('GET, HEAD', 'GET or HEAD'))
  return router
}
