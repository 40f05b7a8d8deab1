/**
 * Receiver CPU, A against B: Pinery builds (or node flags) side by side against the raw-stream
 * receiver of bench:transfer, with each receiver's CPU split by thread from /proc. Written for
 * issue 14 because the split is what tells the costs apart: the main thread, V8's GC threads
 * ("V8Worker") and libuv's threads (file system calls) — a --cpu-prof sees only the first.
 *
 *   node --import tsx scripts/bench/receiver-ab.ts [--mib 256] [--runs 3] \
 *     [--variants 'main=/path/to/main/dist/server.js;branch=dist/server.js=--some-node-flag'] \
 *     [--origin-bitswap helia|lean] [--warm MIB]
 *
 * A variant is `label=script[=node flags]`. Per run: the raw stream, then every variant (in
 * reverse order every other run), each a fresh Pinery on a fresh data dir pinning the origin's
 * DAG; CPU from the request to `pinned`. Build both trees first (`npm run build` in each). Data
 * dirs are removed when the bench exits, not between runs (why: keepUntilExit in pinery-run.ts).
 * With `--warm MIB`, each Pinery first pins another DAG of MIB MiB from a second origin, outside the
 * measured window: what a pin costs in a process that has pinned before (compiled code, grown heap,
 * shard directories made), as a long-running service is, against a fresh process (round seven).
 */
import { mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess } from '../../test/fixtures/process.js'
import { serverEnv, cpuSeconds, MiB, median, peakRss, runPeer, startPeer, threadCpu, threadSplit } from './lib.js'
import { POLL_MS, keepUntilExit } from './pinery-run.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'branch=dist/server.js' },
    'origin-bitswap': { type: 'string', default: 'helia' },
    warm: { type: 'string', default: '0' }
  }
})
const n = Number(values.mib)
const runs = Number(values.runs)
const variants = values.variants.split(';').map(v => {
  const [label, script, ...flags] = v.split('=')
  return { label: label as string, script: resolve(script as string), flags: flags.join('=') }
})
const TOKEN = 'pinery_bench-token'

interface Run { cpuS: number, ms: number, rss: number, threads: Map<string, number> }

/** Pins `cid` through Pinery's API at `url` and waits for `pinned`. */
async function pin (url: string, cid: string, origins: string[]): Promise<void> {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
  const body = JSON.stringify({ cid, origins })
  const { requestid } = await (await fetch(`${url}/pins`, { method: 'POST', headers, body }))
    .json() as { requestid: string }
  for (;;) {
    const s = await (await fetch(`${url}/pins/${requestid}`, { headers }))
      .json() as { status: string, info: Record<string, string> }
    if (s.status === 'pinned') return
    if (s.status === 'failed') throw new Error(`pin failed: ${s.info.status_details}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

async function pineryRun (cid: string, origins: string[], script: string, flags: string): Promise<Run> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-ab-'))
  process.env.PINERY_NODE_FLAGS = flags
  const server = await startServerProcess(serverEnv(dataDir, TOKEN), script)
  try {
    const pid = server.child.pid as number
    if (warm != null) await pin(server.url, warm.value.cid, warm.value.addrs)
    const [cpu0, threads0, started] = [await cpuSeconds(pid), await threadCpu(pid), performance.now()]
    await pin(server.url, cid, origins)
    const ms = performance.now() - started
    const threads = new Map([...await threadCpu(pid)].map(([k, v]) => [k, v - (threads0.get(k) ?? 0)]))
    return { ms, cpuS: await cpuSeconds(pid) - cpu0, rss: await peakRss(pid), threads }
  } finally {
    await server.stop()
    keepUntilExit(dataDir)
  }
}

const perGiB = (cpuS: number): number => cpuS / (n / 1024)
const origin = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n), '--bitswap',
  values['origin-bitswap']])
const warm = values.warm !== '0'
  ? await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', values.warm, '--bitswap',
      values['origin-bitswap']])
  : undefined
const raw: number[] = []
const rawThreads: Array<Map<string, number>> = []
const results = new Map(variants.map(v => [v.label, [] as Run[]]))
try {
  for (let i = 0; i < runs; i++) {
    const r = await runPeer<{ ms: number, cpuS: number, threads: Record<string, number> }>(['raw', '--addr',
      origin.value.addrs[0] as string, '--mib', String(n)])
    raw.push(perGiB(r.cpuS))
    rawThreads.push(new Map(Object.entries(r.threads)))
    let line = `run ${i + 1} (load ${loadavg()[0]?.toFixed(1)}): raw ${raw.at(-1)?.toFixed(2)} CPU-s/GiB`
    for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
      const p = await pineryRun(origin.value.cid, origin.value.addrs, v.script, v.flags)
      results.get(v.label)?.push(p)
      const split = threadSplit(p.threads)
      line += `; ${v.label} ${perGiB(p.cpuS).toFixed(2)} CPU-s/GiB, ${(n / (p.ms / 1000)).toFixed(1)} MiB/s ` +
        `(main ${split.main.toFixed(2)}, GC ${split.gc.toFixed(2)}, fs ${split.fs.toFixed(2)} CPU-s; ` +
        `peak RSS ${(p.rss / MiB).toFixed(0)} MiB)`
    }
    process.stderr.write(line + '\n')
  }
} finally {
  origin.child.kill('SIGTERM')
  warm?.child.kill('SIGTERM')
}
const list = (xs: number[], digits: number): string => xs.map(x => x.toFixed(digits)).join(' / ')
/** Median CPU-s per thread name over runs, the ones that used any. */
const bySplit = (runs: Array<Map<string, number>>): string => [...new Set(runs.flatMap(r => [...r.keys()]))]
  .map(k => [k, median(runs.map(r => r.get(k) ?? 0))] as const).filter(([, v]) => v >= 0.01)
  .map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')
process.stdout.write(`\n${n} MiB, ${runs} runs; raw receiver ${median(raw).toFixed(2)} CPU-s/GiB (${list(raw, 2)}); ` +
  `CPU-s by thread: ${bySplit(rawThreads)}\n`)
for (const [label, rs] of results) {
  const cpu = rs.map(r => perGiB(r.cpuS))
  process.stdout.write(`${label}: ${median(cpu).toFixed(2)} CPU-s/GiB (${list(cpu, 2)}) = ` +
    `${(median(cpu) / median(raw)).toFixed(2)}× raw; ${median(rs.map(r => n / (r.ms / 1000))).toFixed(1)} MiB/s; ` +
    `peak RSS ${(median(rs.map(r => r.rss)) / MiB).toFixed(0)} MiB (${list(rs.map(r => r.rss / MiB), 0)}); ` +
    `CPU-s per pin by thread: ${bySplit(rs.map(r => r.threads))}\n`)
}
