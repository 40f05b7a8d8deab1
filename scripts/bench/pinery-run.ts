/**
 * One Pinery receiver run of the benchmarks: a fresh Pinery process on a temp data dir pins a CID
 * from the given origins through its HTTP API; CPU and peak RSS come from /proc of that process,
 * from the request to `pinned`, in all (/proc/<pid>/stat) and by thread (/proc/<pid>/task/*, see
 * threadSplit in lib.ts).
 */
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServerProcess } from '../../test/fixtures/process.js'
import { serverEnv, cpuSeconds, peakRss, threadCpu, threadDelta } from './lib.js'
import { keepLine, pinPhases, type PinPhases } from './phases.js'
import type { ReceiverRun } from './kubo.js'

const TOKEN = 'pinery_bench-token'

/**
 * Data dirs of finished runs, removed when the bench exits and not after each run: creating a block
 * file right after many files were removed costs the kernel far more (likely ext4's inode allocator
 * passing over recently freed inodes). Measured (RESULTS.md, round five): rounds of 1,024 files of
 * 256 KiB took 0.92–1.28 CPU-s of system time when each round removed the last one's files first,
 * 0.11–0.16 when nothing was removed in between, so a run paid for the run before it; a pinning
 * service creates block files and rarely removes any.
 */
const finished: string[] = []
process.once('exit', () => { for (const dir of finished) rmSync(dir, { recursive: true, force: true }) })

/** Removes `dir` when the bench exits (see `finished`). */
export function keepUntilExit (dir: string): void { finished.push(dir) }

/**
 * How often the pin's status is asked for. Each GET /pins/{id} costs Pinery ~0.3–0.6 ms of CPU
 * (measured: 500 GETs, 0.28 CPU-s at load ~15), all charged to the receiver: every 20 ms that was
 * 1.5–3 % of a core on top of the transfer, which the raw receiver does not pay. Every 100 ms it is
 * a fifth of that; the price is up to 100 ms on the wall-clock time (~2–4 % of a 256 MiB pin).
 */
export const POLL_MS = 100

/** A Pinery run; with `phases`, what its log said about each step (see phases.ts). */
export type PineryRun = ReceiverRun & { phases?: PinPhases }

/**
 * Pins `cid` from `origins` in a fresh Pinery process; `env` adds settings (PINERY_* of the bench's own env too),
 * `script` runs another build's server.js (side by side with this one). With `phases`, Pinery logs at debug
 * level (~100 lines per pin: libp2p's connection steps and the fetch timeline) and the run says its phases.
 */
export async function pineryRun (
  cid: string, origins: string[], env: Record<string, string> = {}, script?: string, options: { phases?: boolean } = {}
): Promise<PineryRun> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-'))
  const server = await startServerProcess({
    ...serverEnv(dataDir, TOKEN),
    ...pick(process.env, /^PINERY_/),
    ...(options.phases === true ? { PINERY_LOG_LEVEL: 'debug' } : {}),
    ...env
  }, script)
  const kept: string[] = []
  if (options.phases === true) {
    let partial = ''
    server.child.stdout?.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) if (keepLine(line)) kept.push(line)
    })
  }
  try {
    const pid = server.child.pid as number
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
    const [cpu0, threads0] = [await cpuSeconds(pid), await threadCpu(pid)]
    const postedAt = Date.now()
    const started = performance.now()
    const body = JSON.stringify({ cid, origins })
    const created = await (await fetch(`${server.url}/pins`, { method: 'POST', headers, body }))
      .json() as { requestid: string }
    for (;;) {
      const res = await fetch(`${server.url}/pins/${created.requestid}`, { headers })
      const s = await res.json() as { status: string, info: Record<string, string> }
      if (s.status === 'pinned') break
      if (s.status === 'failed') throw new Error(`pin failed: ${s.info.status_details}`)
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
    const ms = performance.now() - started
    const threads = threadDelta(threads0, await threadCpu(pid))
    const run: PineryRun = { ms, cpuS: await cpuSeconds(pid) - cpu0, peakRssBytes: await peakRss(pid), threads }
    if (options.phases !== true) return run
    // The fetch timeline is logged right after the settle that the poll saw: wait for it a moment.
    for (let i = 0; i < 50 && !kept.some(l => l.includes('"fetch timeline"')); i++) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    return { ...run, phases: pinPhases(kept, postedAt) }
  } finally {
    await server.stop()
    keepUntilExit(dataDir)
  }
}

function pick (env: NodeJS.ProcessEnv, re: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => re.test(k) && v != null)) as Record<string, string>
}
