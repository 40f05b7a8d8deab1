/**
 * want-flood.ts against fresh services of several builds, side by side: per build and kind, a fresh
 * Pinery (temp data dir), `GET /health` every 100 ms for 3 s quiet and then through a `--seconds` flood
 * by `--peers` peers from one address (fresh peer IDs; one when absent); prints the MiB Pinery took, its
 * CPU-s (in all, as cores, per GiB of wantlists), /health latency (p50 / p95 / max) quiet and during the
 * flood, RSS (start / peak / end), and the streams the peers opened.
 * With `--attack stream-hold` the kinds are stream-hold.ts's modes (hold, na, closed), with `--streams` each; with
 * `--attack unread-blocks` unread-blocks.ts's modes (pause, slow), `--peers` peers wanting `--block-kib` leaves.
 *   node --import tsx scripts/hostile/flood-compare.ts [--kinds want,cancel] [--seconds 12] [--runs 1]
 *        [--peers 1] [--attack want-flood|stream-hold|unread-blocks] [--streams 200] [--connections 1] [--sources 0]
 *        [--block-kib 1024] [--baseline label=path/to/other/dist/server.js …]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SERVER, serverEnv, startServerProcess } from '../../test/fixtures/process.js'
import { median, table } from '../bench/lib.js'

const { values } = parseArgs({
  options: {
    kinds: { type: 'string', default: 'want,cancel' }, seconds: { type: 'string', default: '12' },
    entries: { type: 'string', default: '80000' }, runs: { type: 'string', default: '1' },
    peers: { type: 'string', default: '1' }, attack: { type: 'string', default: 'want-flood' },
    streams: { type: 'string', default: '200' }, connections: { type: 'string', default: '1' },
    'block-kib': { type: 'string', default: '1024' }, sources: { type: 'string', default: '0' },
    baseline: { type: 'string', multiple: true }
  }
})
const builds = [{ label: 'this build', script: SERVER }, ...(values.baseline ?? []).map((spec) => {
  const [label, script] = spec.includes('=') ? spec.split('=', 2) as [string, string] : ['baseline', spec]
  return { label, script }
})]

/** GET /health every 100 ms until `until` resolves; the latencies in ms. */
async function healthLatencies (url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false
  void until.finally(() => { done = true })
  const out: number[] = []
  while (!done) {
    const t0 = performance.now()
    // A refused or reset request counts as 10 s (the service did not answer).
    out.push(await fetch(`${url}/health`).then(async r => { await r.arrayBuffer(); return performance.now() - t0 },
      () => 10_000))
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return out
}

interface Flood {
  mib?: number
  mibSent?: number
  seconds: number
  pineryCpuS: number
  cpuSPerGiB?: number
  rss: number[]
  streams?: number
  opened?: number
  /** unread-blocks.ts: what a peer that reads got meanwhile. */
  honest?: string
}
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1,
  Math.floor(p * xs.length))] ?? Number.NaN
const rows: Array<Array<string | number>> = []
for (let run = 0; run < Number(values.runs); run++) {
  for (const kind of values.kinds.split(',')) {
    for (const build of run % 2 === 0 ? builds : [...builds].reverse()) {
      const dir = await mkdtemp(join(tmpdir(), 'pinery-flood-'))
      const server = await startServerProcess(serverEnv(dir, 'pinery_flood-token'), build.script)
      try {
        const quiet = await healthLatencies(server.url, new Promise(resolve => setTimeout(resolve, 3000)))
        const load = loadavg()[0] as number
        const args = values.attack === 'stream-hold'
          ? ['--mode', kind, '--streams', values.streams, '--connections', values.connections, '--sources',
              values.sources]
          : values.attack === 'unread-blocks'
            ? ['--mode', kind, '--peers', values.peers, '--block-kib', values['block-kib'], '--url', server.url,
                '--token', 'pinery_flood-token']
            : ['--entries', values.entries, '--kind', kind, '--peers', values.peers]
        const flood = spawn(process.execPath, ['--import', 'tsx', `scripts/hostile/${values.attack}.ts`, '--addr',
          server.delegates[0] as string, '--pid', String(server.child.pid), '--seconds', values.seconds, ...args],
        { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        flood.stdout.on('data', (d: Buffer) => { out += d.toString() })
        const exited = new Promise(resolve => flood.once('exit', resolve))
        // The flood starts once its peer is up and its messages made (~1–2 s): latencies from then on.
        const during = await healthLatencies(server.url, exited)
        const r = JSON.parse(out.trim().split('\n').at(-1) as string) as Flood
        console.error(out.trim().split('\n').at(-1))
        const skip = Math.max(0, during.length - Math.floor(Number(values.seconds) * 1000 / 110))
        const d = during.slice(skip)
        const cores = (r.pineryCpuS / r.seconds).toFixed(2)
        rows.push([build.label, kind, run + 1, load.toFixed(1), r.mib ?? r.mibSent ?? 0, r.pineryCpuS, cores,
          r.cpuSPerGiB ?? '–',
          `${median(quiet).toFixed(0)} / ${pct(quiet, 0.95).toFixed(0)}`,
          `${median(d).toFixed(0)} / ${pct(d, 0.95).toFixed(0)} / ${Math.max(...d).toFixed(0)}`,
          r.rss.join(' / '), r.streams ?? r.opened ?? 0, r.honest ?? '–'])
        console.error(rows.at(-1)?.join(' | '))
      } finally {
        await server.stop()
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
}
console.log(table(['build', 'kind', 'run', 'load', 'MiB taken', 'Pinery CPU-s', 'cores', 'CPU-s/GiB',
  '/health quiet p50 / p95 ms', '/health flood p50 / p95 / max ms', 'RSS MiB start / peak / end', 'streams',
  'reading peer'],
rows))
console.log(`peers: ${values.peers}`)
