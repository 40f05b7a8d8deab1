/**
 * The body of the block-file thread (block-file-worker.ts says why it exists): writes each new block file
 * with synchronous calls, one batch of requests per message and one answer per batch. Imports node:* only,
 * so Node runs this file as it is from src/ (type stripping) as well as from dist/.
 *
 * Requests (arrays, cheap to clone): ['slot', n, SharedArrayBuffer] lends slot n;
 * ['put', id, temp, path, n, size, direct, keep] writes slot n's first `size` bytes to `temp` (O_DIRECT when
 * `direct`, falling back to a buffered write where the file system refuses it), closes it unless `keep`, then
 * renames it to `path`; ['has', id, path] asks whether `path` exists. The answer is a flat array of id, result
 * pairs: a put's result is the descriptor kept open, -1 when closed, or an error as 'CODE message' (the temp
 * file removed); a has's 1 or 0.
 */
import { closeSync, constants, existsSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'

const ALIGN = 4096
const slots = new Map<number, Uint8Array>()
let directOff = constants.O_DIRECT == null

/** Writes `bytes` at the start of a new file `temp`; returns its descriptor. */
function write (temp: string, bytes: Uint8Array, direct: boolean): number {
  const base = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC
  if (direct && !directOff) {
    let fd: number | undefined
    try {
      fd = openSync(temp, base | constants.O_DIRECT, 0o600)
      for (let done = 0; done < bytes.byteLength;) {
        const n = writeSync(fd, bytes, done, bytes.byteLength - done, done)
        if (n === 0 || n % ALIGN !== 0) throw new Error(`O_DIRECT write of ${temp} stopped at ${done + n} bytes`)
        done += n
      }
      return fd
    } catch (err) {
      if (fd != null) closeSync(fd)
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
      directOff = true // this file system refuses O_DIRECT: buffered from now on (the file is truncated below)
    }
  }
  const fd = openSync(temp, base, 0o600)
  try {
    for (let done = 0; done < bytes.byteLength;) {
      const n = writeSync(fd, bytes, done, bytes.byteLength - done, done)
      if (n === 0) throw new Error(`no progress writing ${temp}`)
      done += n
    }
  } catch (err) {
    closeSync(fd)
    throw err
  }
  return fd
}

/** One put: the file written, closed unless kept, renamed into place. */
function put (temp: string, path: string, bytes: Uint8Array, direct: boolean, keep: boolean): number | string {
  try {
    const fd = write(temp, bytes, direct)
    // O_DIRECT files are not kept: their fsync opens them again (as the main-thread path does).
    const kept = keep && !(direct && !directOff)
    if (!kept) closeSync(fd)
    try {
      renameSync(temp, path)
    } catch (err) {
      if (kept) closeSync(fd)
      throw err
    }
    return kept ? fd : -1
  } catch (err) {
    try { unlinkSync(temp) } catch {}
    const e = err as NodeJS.ErrnoException
    return `${e.code ?? 'EIO'} ${e.message}`
  }
}

parentPort?.on('message', (batch: unknown[][]) => {
  const out: Array<number | string> = []
  for (const req of batch) {
    const id = req[1] as number
    if (req[0] === 'slot') { slots.set(id, new Uint8Array(req[2] as SharedArrayBuffer)); continue }
    if (req[0] === 'has') { out.push(id, existsSync(req[2] as string) ? 1 : 0); continue }
    const slot = slots.get(req[4] as number)
    const size = req[5] as number
    out.push(id, slot == null
      ? 'EINVAL no such slot'
      : put(req[2] as string, req[3] as string, slot.subarray(0, size), req[6] as boolean, req[7] as boolean))
  }
  parentPort?.postMessage(out)
})
