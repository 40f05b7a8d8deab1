/**
 * bench:transfer — how fast Pinery pins a DAG from another peer, compared in the same run with
 * (a) a raw libp2p stream of the same bytes between two processes, (b) stock Helia pins.add of
 * the same DAG and (c) kubo: Pinery pinning from a kubo origin against a second kubo pinning the
 * same DAG from the same origin (`ipfs swarm connect` + `ipfs pin add`), the peer a user would
 * pick instead.
 *
 *   npm run bench:transfer -- [--sizes 256,1024] [--runs 3] [--stock-runs 3] [--kubo true]
 *   npm run bench:transfer -- --rtt 40,100 [--sizes 64] [--runs 3] [--pinery-env 'default;PINERY_X=1']
 *                                                           (latency sweep, see rtt.ts)
 *   --bitswap helia,lean   Pinery with each bitswap (PINERY_BITSWAP), each pinning from an origin
 *                          running the same one, side by side in the same run (both modes)
 *   --baseline main=PATH   every Pinery variant also with the build at PATH (another tree's
 *                          dist/server.js, built first), interleaved in the same runs (both modes)
 *
 * Every party is its own process on 127.0.0.1. Runs are interleaved (raw, Pinery, stock, Pinery
 * from kubo, kubo from kubo, raw, …) so machine noise hits all of them alike; the Pinery variants
 * run in reverse order every other run. Reports medians of MiB/s, CPU-seconds of the receiving
 * process per GiB (from /proc/<pid>/stat: Pinery from the POST to the poll that sees `pinned`,
 * dialing, polling and the durable writes included; the raw receiver from its dial to the stream's
 * end, both in processes started before the window) and peak RSS (VmHWM).
 *
 * Round five (issue 14) added the split by thread (/proc/<pid>/task/*: main thread, V8's GC threads,
 * libuv's file system threads) and the load average per run, the same split receiver-ab.ts prints.
 * It explained why this bench and receiver-ab disagreed (3.03× against 1.91×): both count the same
 * window, but the kernel's cost of creating a block file (open with O_CREAT in a shard directory)
 * moved 0.05–0.85 CPU-s per 1,024 files between minutes on this machine's ext4, and Pinery's CPU
 * per pin rose run after run with it (7.8 → 12.0 CPU-s/GiB over six runs in 3 minutes). The last
 * column of the thread table, Pinery / raw without the file system threads, is the part that does
 * not swing with the disk; the target counts everything.
 *
 * No receiver's files are removed before the bench exits (round seven): Pinery's data dirs were kept
 * since round five, but the stock runs' blockstore and the receiving kubo's repo were removed right
 * after each run, so the next run's Pinery created its block files among thousands of inodes freed
 * a moment before (ext4 without a journal skips those, see keepUntilExit in pinery-run.ts).
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { KUBO_VERSION } from '../../test/fixtures/tools.js'
import { kuboPinRun, startKuboOrigin, type ReceiverRun } from './kubo.js'
import { MiB, median, runPeer, startPeer, table, threadSplit, type ThreadSplit } from './lib.js'
import { keepUntilExit, pineryRun } from './pinery-run.js'
import { bitswapVariants, parseVariants, rttSweep, withBaseline } from './rtt.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,1024' },
    runs: { type: 'string', default: '3' },
    'stock-runs': { type: 'string', default: '3' },
    kubo: { type: 'string', default: 'true' },
    rtt: { type: 'string' },
    'pinery-env': { type: 'string' },
    bitswap: { type: 'string' },
    baseline: { type: 'string' }
  }
})
const variants = withBaseline(
  values.bitswap != null ? bitswapVariants(values.bitswap) : parseVariants(values['pinery-env']), values.baseline)
if (values.rtt != null) {
  // The latency sweep: raw stream and Pinery through a delaying proxy (see rtt.ts); sizes default to 64 MiB.
  const rttSizes = process.argv.includes('--sizes') ? values.sizes.split(',').map(Number) : [64]
  await rttSweep({
    sizes: rttSizes,
    rtts: [0, ...values.rtt.split(',').map(Number)],
    runs: Number(values.runs),
    variants
  })
  process.exit(0)
}
const sizes = values.sizes.split(',').map(Number)
const runs = Number(values.runs)
const stockRuns = Number(values['stock-runs'])
const withKubo = values.kubo !== 'false'
const rate = (n: number, ms: number): number => n / (ms / 1000)
/** CPU-seconds per GiB received. */
const perGiB = (n: number, cpuS: number): number => cpuS / (n / 1024)
const rows: Array<Array<string | number>> = []
const kuboRows: Array<Array<string | number>> = []
const ratioRows: Array<Array<string | number>> = []
const threadRows: Array<Array<string | number>> = []

/** Medians of one receiver's runs. */
interface Series { name: string, mibs: number[], cpu: number[], rss: number[], split: ThreadSplit[] }
const series = (name: string): Series => ({ name, mibs: [], cpu: [], rss: [], split: [] })
const record = (s: Series, n: number, r: ReceiverRun): void => {
  s.mibs.push(rate(n, r.ms))
  s.cpu.push(perGiB(n, r.cpuS))
  if (r.peakRssBytes > 0) s.rss.push(r.peakRssBytes)
  if (r.threads != null) s.split.push(threadSplit(r.threads))
}
/** Median CPU-s/GiB of one thread group over a series' runs. */
const splitMedian = (s: Series, n: number, group: keyof ThreadSplit): number =>
  median(s.split.map(x => perGiB(n, x[group])))
/** The last run of a series; with the file system threads' share, which tells a run that paid for the disk's state. */
const last = (s: Series, n: number): string => {
  const fs = s.split.at(-1)?.fs
  return `${s.mibs.at(-1)?.toFixed(1) ?? '-'} MiB/s ${s.cpu.at(-1)?.toFixed(1) ?? '-'} CPU-s/GiB` +
    (fs != null && fs > 0 ? ` (fs ${perGiB(n, fs).toFixed(1)})` : '')
}

for (const n of sizes) {
  const origins = new Map<string, { cid: string, addrs: string[], kill: () => void }>()
  for (const b of new Set(['helia', ...variants.map(v => v.origin)])) {
    const o = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n), '--bitswap', b])
    origins.set(b, { ...o.value, kill: () => o.child.kill('SIGTERM') })
  }
  const origin = origins.get('helia') as { cid: string, addrs: string[] }
  const kuboOrigin = withKubo ? await startKuboOrigin(n) : undefined
  const addr = origin.addrs[0] as string
  const raw = series('raw libp2p stream (Helia → Helia)')
  const pinery = variants.map(v => series(`${v.label}`))
  const pineryKubo = variants.map(v => series(`${v.label.replace(/ ← .*/, '')} ← kubo origin`))
  const kubo = series(`kubo ${KUBO_VERSION} ← kubo origin`)
  const stock: number[] = []
  try {
    for (let i = 0; i < runs; i++) {
      const load = loadavg()[0] as number
      const r = await runPeer<{ ms: number, cpuS: number, threads: Record<string, number> }>(['raw', '--addr', addr,
        '--mib', String(n)])
      record(raw, n, { ...r, peakRssBytes: 0, threads: new Map(Object.entries(r.threads)) })
      // Every other run in reverse order: a variant measured always first (or last) would meet the
      // machine's drift (other processes, the file system's state) always at the same point.
      const order = [...variants.entries()]
      for (const [j, v] of i % 2 === 0 ? order : order.reverse()) {
        const o = origins.get(v.origin) as { cid: string, addrs: string[] }
        record(pinery[j] as Series, n, await pineryRun(o.cid, o.addrs, v.env, v.script))
      }
      const stockRun = i < stockRuns
        ? await runPeer<{ ms: number, dir: string }>(['stock', '--addr', addr, '--cid', origin.cid])
        : undefined
      if (stockRun != null) keepUntilExit(stockRun.dir)
      const s = stockRun != null ? rate(n, stockRun.ms) : undefined
      if (s != null) stock.push(s)
      if (kuboOrigin != null) {
        for (const [j, v] of variants.entries()) {
          record(pineryKubo[j] as Series, n, await pineryRun(kuboOrigin.cid, kuboOrigin.kubo.addrs, v.env, v.script))
        }
        record(kubo, n, await kuboPinRun(kuboOrigin.cid, kuboOrigin.kubo.addrs[0] as string))
      }
      const each = (xs: Series[]): string => xs.map(p => `${p.name} ${last(p, n)}`).join('; ')
      process.stderr.write(`${n} MiB run ${i + 1} (load ${load.toFixed(1)}): raw ${last(raw, n)}; ${each(pinery)}; ` +
        `stock ${s?.toFixed(1) ?? '-'} MiB/s` +
        (kuboOrigin != null ? `; ${each(pineryKubo)}; kubo←kubo ${last(kubo, n)}` : '') + '\n')
    }
  } finally {
    for (const o of origins.values()) o.kill()
    await kuboOrigin?.kubo.stop()
  }
  const r = median(raw.mibs)
  const s = stock.length > 0 ? median(stock) : NaN
  for (const x of pinery) {
    const p = median(x.mibs)
    rows.push([`${n} MiB`, x.name, r.toFixed(1), p.toFixed(1), x.mibs.map(v => v.toFixed(0)).join(' / '),
      Number.isNaN(s) ? '-' : s.toFixed(1), `${(100 * p / r).toFixed(0)} %`,
      Number.isNaN(s) ? '-' : `${(p / s).toFixed(1)}×`, (median(x.rss) / MiB).toFixed(0),
      (Math.max(...x.rss) / MiB).toFixed(0),
      median(raw.cpu).toFixed(2), median(x.cpu).toFixed(2), x.cpu.map(v => v.toFixed(1)).join(' / '),
      `${(median(x.cpu) / median(raw.cpu)).toFixed(2)}×`])
  }
  for (const x of [raw, ...pinery]) {
    if (x.split.length === 0) continue
    const groups = (['main', 'gc', 'fs', 'other'] as const).map(g => splitMedian(x, n, g).toFixed(2))
    const withoutFs = (s: Series): number => median(s.split.map(t => perGiB(n, t.main + t.gc + t.other)))
    threadRows.push([`${n} MiB`, x.name, ...groups, x === raw ? '-' : `${(withoutFs(x) / withoutFs(raw)).toFixed(2)}×`])
  }
  if (kuboOrigin == null) continue
  for (const x of [raw, ...pinery, ...pineryKubo, kubo]) {
    kuboRows.push([`${n} MiB`, x.name, median(x.mibs).toFixed(1), x.mibs.map(v => v.toFixed(0)).join(' / '),
      median(x.cpu).toFixed(2),
      x.rss.length > 0 ? (median(x.rss) / MiB).toFixed(0) : '-'])
  }
  for (const x of pineryKubo) {
    ratioRows.push([`${n} MiB`, x.name, `${(median(x.mibs) / median(kubo.mibs)).toFixed(2)}×`,
      `${(median(x.cpu) / median(kubo.cpu)).toFixed(2)}×`])
  }
}

process.stdout.write(`\nbench:transfer — medians of ${runs} runs (stock: ${Math.min(runs, stockRuns)}), ` +
  'MiB/s of file bytes\n\n')
process.stdout.write(table(['size', 'receiver', 'raw stream', 'Pinery', 'runs', 'stock pins.add', 'Pinery / raw',
  'Pinery / stock', 'Pinery peak RSS MiB (median)', '(max)', 'raw CPU-s/GiB', 'Pinery CPU-s/GiB', 'runs',
  'Pinery / raw CPU per byte (≤ 1.5×)'], rows) + '\n')
process.stdout.write('\nreceivers\' CPU-s/GiB by thread (medians; the main thread, V8\'s GC and compiler threads, ' +
  'libuv\'s thread pool: file system calls); the last column leaves out the file system threads, whose cost ' +
  'swings with the disk\'s state (see RESULTS.md, round five)\n\n')
process.stdout.write(table(['size', 'receiver', 'main thread', 'V8 GC threads', 'libuv (file system) threads', 'other',
  'Pinery / raw without file system'], threadRows) + '\n')
if (kuboRows.length > 0) {
  process.stdout.write(`\nreceivers side by side (kubo ${KUBO_VERSION}); CPU-s/GiB of the receiving process\n\n`)
  process.stdout.write(table(['size', 'receiver', 'MiB/s (median)', 'runs', 'CPU-s/GiB (median)', 'peak RSS MiB'],
    kuboRows) + '\n\n')
  process.stdout.write(table(['size', 'receiver', 'Pinery / kubo throughput (target ≥ 1.0×)',
    'Pinery / kubo CPU per byte (target ≤ 1.0×)'], ratioRows) + '\n')
}
