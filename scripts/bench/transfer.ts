/**
 * bench:transfer — how fast Pinery pins a DAG from another peer, compared in
 * the same run with (a) a raw libp2p stream of the same bytes between two
 * processes and (b) stock Helia pins.add of the same DAG.
 *
 *   npm run bench:transfer -- [--sizes 256,1024] [--runs 3] [--stock-runs 3]
 *
 * Every party is its own process on 127.0.0.1. Runs are interleaved (raw,
 * Pinery, stock, raw, …) so machine noise hits all of them alike. Reports
 * medians, ratios and Pinery's peak RSS (VmHWM).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess } from '../../test/fixtures/process.js'
import { MiB, median, peakRss, runPeer, startPeer, table } from './lib.js'

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '256,1024' }, runs: { type: 'string', default: '3' }, 'stock-runs': { type: 'string', default: '3' } } })
const sizes = values.sizes.split(',').map(Number)
const runs = Number(values.runs)
const stockRuns = Number(values['stock-runs'])
const TOKEN = 'pinery_bench-token'

async function pineryRun (cid: string, origins: string[]): Promise<{ ms: number, peakRssBytes: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-'))
  const server = await startServerProcess({ PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: TOKEN, PINERY_LOG_LEVEL: 'warn', ...pick(process.env, /^PINERY_/) })
  try {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
    const started = performance.now()
    const created = await (await fetch(`${server.url}/pins`, { method: 'POST', headers, body: JSON.stringify({ cid, origins }) })).json() as { requestid: string }
    for (;;) {
      const s = await (await fetch(`${server.url}/pins/${created.requestid}`, { headers })).json() as { status: string, info: Record<string, string> }
      if (s.status === 'pinned') break
      if (s.status === 'failed') throw new Error(`pin failed: ${s.info.status_details}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    const ms = performance.now() - started
    return { ms, peakRssBytes: await peakRss(server.child.pid as number) }
  } finally {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

function pick (env: NodeJS.ProcessEnv, re: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => re.test(k) && v != null)) as Record<string, string>
}

const rate = (n: number, ms: number): number => n / (ms / 1000)
const rows: Array<Array<string | number>> = []
for (const n of sizes) {
  const origin = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n)])
  const addr = origin.value.addrs[0] as string
  const raw: number[] = []
  const pinery: number[] = []
  const stock: number[] = []
  const rss: number[] = []
  for (let i = 0; i < runs; i++) {
    raw.push(rate(n, (await runPeer<{ ms: number }>(['raw', '--addr', addr, '--mib', String(n)])).ms))
    const p = await pineryRun(origin.value.cid, origin.value.addrs)
    pinery.push(rate(n, p.ms))
    rss.push(p.peakRssBytes)
    const s = i < stockRuns ? rate(n, (await runPeer<{ ms: number }>(['stock', '--addr', addr, '--cid', origin.value.cid])).ms) : undefined
    if (s != null) stock.push(s)
    process.stderr.write(`${n} MiB run ${i + 1}: raw ${raw.at(-1)?.toFixed(1)} MiB/s, pinery ${pinery.at(-1)?.toFixed(1)} MiB/s, stock ${s?.toFixed(1) ?? '-'} MiB/s, pinery peak RSS ${(p.peakRssBytes / MiB).toFixed(0)} MiB\n`)
  }
  origin.child.kill('SIGTERM')
  const r = median(raw)
  const p = median(pinery)
  const s = stock.length > 0 ? median(stock) : NaN
  rows.push([`${n} MiB`, r.toFixed(1), p.toFixed(1), Number.isNaN(s) ? '-' : s.toFixed(1), `${(100 * p / r).toFixed(0)} %`, Number.isNaN(s) ? '-' : `${(p / s).toFixed(1)}×`, (median(rss) / MiB).toFixed(0), (Math.max(...rss) / MiB).toFixed(0)])
}

process.stdout.write(`\nbench:transfer — medians of ${runs} runs (stock: ${Math.min(runs, stockRuns)}), MiB/s of file bytes\n\n`)
process.stdout.write(table(['size', 'raw stream', 'Pinery', 'stock pins.add', 'Pinery / raw', 'Pinery / stock', 'Pinery peak RSS MiB (median)', '(max)'], rows) + '\n')
