/**
 * `pinery add PATH` and `pinery ls`: what a CI job that pins each build needs besides `pinery wait`, so that it
 * runs on the CLI and PINERY_TOKEN alone (walk17: with curl the token sat in `ps`-visible arguments, a folder
 * took one `-F` per file, and the job had to pick the CID out of JSON, wait, then delete the last build's pin
 * with three more calls, each failing in its own way). `add` uploads through POST /content, waits until every
 * request it made is pinned (wait.ts), and only then deletes the request `--replace` names.
 */
import { openAsBlob } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { printable, table } from './format.js'
import { answerText, createRemoteCall, failureOf, RemoteError, unreachable } from './remote-call.js'
import { runWait } from './wait.js'
import type { PinStatusBody } from '../http/pin-status.js'

/** Where the service is, who is asking, how long `add` may take in all. */
export interface PinsCliInit {
  url: string
  token: string
  timeoutMs?: number
  /** Progress lines for people (stderr): what is uploaded, what is waited for. */
  say: (line: string) => void
}

/** What `add` uploads, and under which name and meta. */
export interface AddOptions {
  name?: string
  meta?: Record<string, string>
  /** A request of the caller's to delete once every new request is pinned (the last build's). */
  replace?: string
}

/** What a command gave: JSON for --json, text for people, the bare values for --quiet, the exit code. */
export interface PinsOutput { json: unknown, text: string, quiet: string, code: number }

/** `--meta KEY=VALUE` options as the meta object POST /content takes; a malformed one throws (a usage error). */
export function metaOf (pairs: string[] | undefined): Record<string, string> | undefined {
  if (pairs == null || pairs.length === 0) return undefined
  const meta: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new Error('--meta must be KEY=VALUE, such as --meta branch=main')
    meta[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return meta
}

/** A folder's files, paths relative to it, in name order; hidden names left out, as `ipfs add -r` does. */
async function filesOf (dir: string, prefix = ''): Promise<Array<{ path: string, file: string }>> {
  const found: Array<{ path: string, file: string }> = []
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue
    const path = `${prefix}${entry.name}`
    const file = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...await filesOf(file, `${path}/`))
    else if (entry.isFile()) found.push({ path, file })
    else throw new Error(`${file} is not a file or folder (a link?): upload a folder of plain files`)
  }
  return found
}

/** The request for PATH: a folder as a form (wrapped: the CID `ipfs add -r` gives it), a CAR, or one file. */
async function uploadOf (
  path: string, options: AddOptions
): Promise<{ query: URLSearchParams, body: FormData | Blob, type?: string, what: string }> {
  const kind = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `${path}: no such file or folder` : `${path}: ${err.message}`)
  })
  const query = new URLSearchParams()
  // By the folder's own name also when given as `.` (`cd build && pinery add .`: the pin was named ".").
  const name = options.name ?? (path.endsWith('.car') ? undefined : basename(resolve(path)))
  if (name != null) query.set('name', name)
  if (options.meta != null) query.set('meta', JSON.stringify(options.meta))
  if (kind.isDirectory()) {
    const files = await filesOf(path)
    if (files.length === 0) throw new Error(`${path} holds no files to upload`)
    const form = new FormData()
    for (const f of files) form.append('file', await openAsBlob(f.file), f.path)
    query.set('wrap-with-directory', 'true')
    return { query, body: form, what: files.length === 1 ? '1 file' : `${files.length} files` }
  }
  if (!kind.isFile()) throw new Error(`${path} is not a file or folder`)
  const car = path.endsWith('.car')
  return {
    query,
    body: await openAsBlob(path),
    type: car ? 'application/vnd.ipld.car' : 'application/octet-stream',
    what: car ? 'a CAR' : 'a file'
  }
}

/** Uploads PATH, waits until it is pinned, then deletes `options.replace`. */
export async function runAdd (init: PinsCliInit, path: string, options: AddOptions): Promise<PinsOutput> {
  const base = init.url.replace(/\/+$/, '')
  const started = Date.now()
  const left = (): number | undefined =>
    init.timeoutMs == null ? undefined : Math.max(1, init.timeoutMs - (Date.now() - started))
  const call = createRemoteCall({ url: base, token: init.token })
  // Read first: a mistyped ID, or a token that may not read (so not delete) pins, fails before the upload.
  if (options.replace != null) {
    await call('GET', `/pins/${encodeURIComponent(options.replace)}`, undefined, left()).catch((err: Error) => {
      if ((err as RemoteError).status !== 404) throw err
      throw new Error(`--replace ${options.replace}: no such pin request of yours (nothing uploaded)`)
    })
  }
  const upload = await uploadOf(path, options)
  init.say(`uploading ${upload.what} from ${path}`)
  const timeout = left()
  let res: Response
  try {
    res = await fetch(`${base}/content?${upload.query.toString()}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${init.token}`, ...(upload.type != null ? { 'content-type': upload.type } : {})
      },
      body: upload.body,
      ...(timeout != null ? { signal: AbortSignal.timeout(timeout) } : {})
    })
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') throw new Error(`the upload did not finish within ${timeout! / 1000} s`)
    throw unreachable(base, err)
  }
  const text = await answerText(res)
  let answer: unknown
  try { answer = JSON.parse(text) } catch {}
  if (!res.ok) throw failureOf(res.status, answer, text)
  const pins = ((answer as { results?: unknown })?.results ?? [answer]) as PinStatusBody[]
  if (!Array.isArray(pins) || pins.some(p => typeof p?.requestid !== 'string' || typeof p.pin?.cid !== 'string')) {
    throw new RemoteError(res.status, 'BAD_RESPONSE', 'an upload answer without its requests')
  }
  // A CAR's blocks may still be fetched from its origins: wait as `pinery wait` does (10 requests at a time).
  const ended: PinStatusBody[] = []
  let waited = ''
  let code = 0
  for (let i = 0; i < pins.length; i += 10) {
    const some = pins.slice(i, i + 10)
    if (some.every(p => p.status === 'pinned')) { ended.push(...some); continue }
    const outcome = await runWait({
      url: base, token: init.token, waiting: init.say, ...(left() != null ? { timeoutMs: left() } : {})
    }, some.map(p => p.requestid))
    waited += outcome.text
    code = Math.max(code, outcome.code)
    ended.push(...outcome.json.map((w, at) => w.pin ?? some[at] as PinStatusBody))
  }
  const made = ended.map(p => `${p.requestid} ${p.status} ${p.pin.cid}` +
    (p.pin.name != null ? ` "${printable(p.pin.name)}"` : '')).join('\n') + '\n'
  const cids = ended.map(p => p.pin.cid).join('\n') + '\n'
  if (code !== 0) {
    const kept = options.replace != null ? `; ${options.replace} is kept` : ''
    throw new AddFailed(`${waited.trimEnd()}\nthe upload is not pinned${kept}`, ended)
  }
  let replaced: string | undefined
  if (options.replace != null && !ended.some(p => p.requestid === options.replace)) {
    try {
      await call('DELETE', `/pins/${encodeURIComponent(options.replace)}`, undefined, left())
      replaced = options.replace
    } catch (err) {
      // Deleted meanwhile (another job's replace): what was asked is done.
      if ((err as RemoteError).status !== 404) {
        throw new AddFailed(`pinned, but the request to replace, ${options.replace}, is not deleted: ` +
          `${(err as Error).message}`, ended)
      }
    }
  }
  return {
    json: { results: ended, replaced: replaced ?? null },
    text: made + (replaced != null ? `deleted ${replaced} (replaced)\n` : ''),
    quiet: cids,
    code: 0
  }
}

/** `add` failed after it uploaded: the requests it made are said beside the reason, for the job's log. */
export class AddFailed extends Error {
  static override name = 'AddFailed'
  override name = AddFailed.name
  constructor (message: string, readonly pins: PinStatusBody[]) { super(message) }
}

/** What `ls` filters on. */
export interface ListOptions {
  status?: string
  name?: string
  meta?: Record<string, string>
  limit?: string
}

/** Lists the caller's pin requests, newest first (GET /pins; pinned ones unless --status says otherwise). */
export async function runList (init: PinsCliInit, options: ListOptions): Promise<PinsOutput> {
  const query = new URLSearchParams()
  if (options.status != null) query.set('status', options.status)
  if (options.name != null) query.set('name', options.name)
  if (options.meta != null) query.set('meta', JSON.stringify(options.meta))
  if (options.limit != null) query.set('limit', options.limit)
  const call = createRemoteCall({ url: init.url, token: init.token })
  const answer = await call<{ count: number, results: PinStatusBody[] }>('GET', `/pins?${query.toString()}`)
  const rows = answer.results.map(p => [p.requestid, p.status, p.pin.cid, p.created, p.pin.name ?? ''])
  return {
    json: answer,
    text: table(['REQUESTID', 'STATUS', 'CID', 'CREATED', 'NAME'], rows) +
      `${answer.results.length} of ${answer.count}\n`,
    quiet: answer.results.map(p => `${p.requestid}\n`).join(''),
    code: 0
  }
}
