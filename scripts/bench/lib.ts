/**
 * Shared pieces of the benchmarks: child processes that print one JSON line,
 * peak RSS from /proc, medians and table formatting.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

export const RAW_PROTOCOL = '/pinery-bench/raw/1.0.0'
export const MiB = 1024 * 1024
const PEER = fileURLToPath(new URL('./peer.ts', import.meta.url))

/** Block `i` of bench:many: small, distinct, derivable by origin and orchestrator alike. */
export async function manyBlock (i: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(`pinery bench:many block ${i}`.padEnd(1024, '.'))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** Peak resident set size (VmHWM) of a process, in bytes. */
export async function peakRss (pid: number | 'self' = 'self'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export async function cpuSeconds (pid: number | 'self' = 'self'): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every Linux this runs on). */
const CLOCK_TICKS = 100

/** CPU-seconds (user, system) of each thread name of a process (libuv's four workers summed). */
export async function threadCpu (pid: number | 'self' = 'self'): Promise<Map<string, number>> {
  const cpu = new Map<string, number>()
  for (const task of await readdir(`/proc/${pid}/task`)) {
    let stat
    try { stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8') } catch { continue } // exited
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    for (const [kind, field] of [['usr', 11], ['sys', 12]] as const) {
      cpu.set(`${name} ${kind}`, (cpu.get(`${name} ${kind}`) ?? 0) + Number(fields[field]) / CLOCK_TICKS)
    }
  }
  return cpu
}

/** CPU-seconds by thread name used between two {@link threadCpu} readings. */
export function threadDelta (before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]))
}

/**
 * A receiver's CPU-seconds in the groups that tell its costs apart: the main thread (JavaScript,
 * Noise, hashing and the system calls it makes itself), V8's helper threads (`V8Worker`: concurrent
 * marking and sweeping, background compilation), libuv's thread pool (`libuv-worker`: file system
 * calls) and anything else (e.g. the profiler's thread).
 */
export interface ThreadSplit { main: number, gc: number, fs: number, other: number }

/** Sums {@link threadCpu}'s entries (`<thread name> usr|sys`) into a {@link ThreadSplit}. */
export function threadSplit (threads: Map<string, number>): ThreadSplit {
  const split: ThreadSplit = { main: 0, gc: 0, fs: 0, other: 0 }
  for (const [key, cpu] of threads) {
    const name = key.replace(/ (usr|sys)$/, '')
    const group = name === 'MainThread' ? 'main' : name === 'V8Worker' ? 'gc' : name === 'libuv-worker' ? 'fs' : 'other'
    split[group] += cpu
  }
  return split
}

/** A child that announced itself with a JSON line. */
export interface JsonChild<T> { child: ChildProcess, value: T }

/** Starts `scripts/bench/peer.ts <args>` and resolves with its first JSON line. */
export async function startPeer<T> (args: string[]): Promise<JsonChild<T>> {
  const child = spawn(process.execPath, ['--import', 'tsx', PEER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const value = await new Promise<T>((resolve, reject) => {
    let buffer = ''
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString()
      const line = buffer.split('\n').find(l => l.startsWith('{'))
      if (line != null) resolve(JSON.parse(line) as T)
    })
    child.on('exit', code => { reject(new Error(`peer ${args.join(' ')} exited with ${code}`)) })
  })
  return { child, value }
}

/** Runs a peer to completion and returns its JSON line. */
export async function runPeer<T> (args: string[]): Promise<T> {
  const { child, value } = await startPeer<T>(args)
  if (child.exitCode == null) await new Promise(resolve => child.once('exit', resolve))
  return value
}

/** The median of some numbers. */
export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** Renders rows as a Markdown table. */
export function table (header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/** Formats bytes as MiB with one decimal. */
export const mib = (bytes: number): string => (bytes / MiB).toFixed(1)

/** The service's environment for benches: the same as the tests'. */
export { serverEnv } from '../../test/fixtures/process.js'

/**
 * Polls a Pinery at `url` every 100 ms until `count` requests are pinned or failed, or `started`
 * (a performance.now() value) is 300 s ago; resolves with how many are pinned.
 */
export async function waitSettled (
  url: string, headers: Record<string, string>, count: number, started: number
): Promise<number> {
  const countOf = async (status: string): Promise<number> => {
    const res = await fetch(`${url}/pins?status=${status}&limit=1`, { headers })
    return ((await res.json()) as { count: number }).count
  }
  for (;;) {
    const pinned = await countOf('pinned')
    if (pinned + await countOf('failed') >= count || performance.now() - started > 300_000) return pinned
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Every file under `dir` (the bench's "read the block files from disk" baseline). */
export async function listFiles (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
}

/** Reads every one of `files`, `parallel` at once; returns the bytes read. */
export async function readAll (files: string[], parallel = 16): Promise<number> {
  let bytes = 0
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < files.length) {
      const data = await readFile(files[next++] as string)
      bytes += data.byteLength // after the await: `bytes += await …` would lose the other readers' sums
    }
  }))
  return bytes
}

/**
 * GETs `url` with `authorization` by curl into /dev/null; resolves with the body's size. curl, because
 * fetch() cost the bench process more CPU per byte than the server it measures.
 */
export async function curlBytes (url: string, authorization: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const args = ['-sSf', '-o', '/dev/null', '-w', '%{size_download}', '-H', `authorization: ${authorization}`, url]
    execFile('curl', args, (err, out) => {
      if (err != null) reject(new Error(`GET ${url}: ${err.message}`))
      else resolve(Number(out))
    })
  })
}

/** One CAR section: its length as a varint, then `bytes` (the header, or a CID and its block). */
export const carSection = (bytes: Uint8Array): Buffer => Buffer.concat([
  Buffer.from(varint.encodeTo(bytes.byteLength, new Uint8Array(varint.encodingLength(bytes.byteLength)))), bytes
])

/**
 * POSTs `body` (`length` bytes of `type`) to `url`'s /content as `token`, chunk by chunk with backpressure;
 * resolves with the answer's status and body. node:http rather than fetch(), which cost the bench more CPU.
 */
export async function postContent (
  url: string, token: string, type: string, length: number, body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>
): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': type, 'content-length': String(length) }
    const req = request(new URL('/content', url), { method: 'POST', headers }, (res) => {
      let answer = ''
      res.on('data', (d: Buffer) => { answer += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: answer }) })
    })
    req.on('error', reject)
    void (async () => {
      for await (const chunk of body) {
        if (!req.write(chunk)) await new Promise(resolve => req.once('drain', resolve))
      }
      req.end()
    })().catch(reject)
  })
}
