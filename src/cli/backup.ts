/**
 * `pinery backup --out FILE` and `pinery restore FILE`. Online, backup streams the running service's
 * GET /backup; offline, it reads a stopped data dir. The archive holds token hashes and, unless
 * PINERY_KEY_PASSWORD seals it, the node's private key: it is written owner-only, and only once whole
 * (a temporary name, fsynced, then renamed), so a cut transfer never looks like a backup.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { backupDataDir, restoreDataDir } from '../offline.js'
import { formatBytes } from './format.js'
import { answerText, failureOf, unreachable } from './remote-call.js'
import { uncheckable, verifyText } from './verify.js'
import type { RestoreReport } from '../backup/restore.js'
import type { VerifyReport } from '../pins/verify.js'

/** Where a backup comes from: a running service, or a stopped data dir. */
export type BackupSource = { url: string, token: string } | { dataDir: string }

/** Writes into `out` through a temporary file beside it, renamed once complete and fsynced. */
async function writeWhole (out: string, write: (sink: NodeJS.WritableStream) => Promise<void>): Promise<number> {
  const temp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`)
  // Opened before anything is read: a stream opening a file in a missing dir raised an unhandled 'error'
  // while the download started, and the CLI died with a stack trace (walk17).
  const file = await open(temp, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot write ${out}: ${err.code === 'ENOENT' ? `no directory ${dirname(out)}` : err.message}`)
  })
  try {
    await write(file.createWriteStream())
    const handle = await open(temp, 'r')
    try { await handle.sync() } finally { await handle.close() }
    await rename(temp, out)
  } finally {
    await file.close().catch(() => {})
    await rm(temp, { force: true })
  }
  return (await stat(out)).size
}

/** Streams the service's GET /backup into `sink`; a Failure answer becomes a RemoteError. */
async function download (url: string, token: string, sink: NodeJS.WritableStream): Promise<void> {
  const base = url.replace(/\/+$/, '')
  let res: Response
  try {
    res = await fetch(`${base}/backup`, { headers: { authorization: `Bearer ${token}` } })
  } catch (err) {
    throw unreachable(base, err)
  }
  if (!res.ok || res.body == null) {
    const text = await answerText(res)
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch {}
    throw failureOf(res.status, parsed, text)
  }
  await pipeline(Readable.fromWeb(res.body as never), sink)
}

/**
 * Runs `backup`: resolves with the line to print. `out` `-` streams the archive to `stdout` (for
 * `pinery backup --out - | ssh host 'cat > pinery.tar'`, with no copy on this disk); then the line goes to stderr,
 * and only a reader that checks the exit code knows the archive is whole (a restore refuses a cut one).
 */
export async function runBackup (
  source: BackupSource, out: string, stdout?: NodeJS.WritableStream & { isTTY?: boolean }
): Promise<string> {
  const write = 'url' in source
    ? async (sink: NodeJS.WritableStream) => { await download(source.url, source.token, sink) }
    : async (sink: NodeJS.WritableStream) => { await backupDataDir(source.dataDir, sink) }
  if (out === '-') {
    if (stdout == null || stdout.isTTY === true) {
      throw new Error('--out - writes a tar to stdout: pipe it, not a terminal')
    }
    await write(stdout)
    return 'wrote the backup to stdout; keep it private: it holds token hashes and the node\'s key.\n'
  }
  const size = await writeWhole(out, write)
  return `wrote ${out} (${formatBytes(size)}); keep it private: it holds token hashes and the node's key. ` +
    'Restore it with `pinery restore FILE` into an empty PINERY_DATA_DIR.\n'
}

/** What `restore --json` prints; `unchecked` says why the restored DAGs were not checked (an older format). */
interface RestoreJson { restored: RestoreReport, verified: VerifyReport, unchecked?: string }

/** Runs `restore`: the output and the exit code (1 when a restored DAG is not whole). */
export async function runRestore (
  file: string, dataDir: string
): Promise<{ json: RestoreJson, text: string, code: number }> {
  const { restored, verified } = await restoreDataDir(createReadStream(file), dataDir)
  // A backup of an older Pinery's data dir: what was checked above is not where its DAG pins are yet.
  const later = await uncheckable(dataDir)
  const text = (restored.leftovers > 0
    ? `removed ${restored.leftovers} staging dir(s) an interrupted restore of ${dataDir} left\n`
    : '') + `restored ${restored.keys} datastore keys and ${restored.blocks} blocks ` +
    `(${formatBytes(restored.blockBytes)}) from a backup of ${restored.manifest.createdAt} into ${dataDir}\n` +
    (later != null ? `not checked yet: ${later}\n` : verifyText(verified))
  const json = { restored, verified, ...(later != null ? { unchecked: later } : {}) }
  return { json, text, code: verified.damaged.length > 0 ? 1 : 0 }
}
