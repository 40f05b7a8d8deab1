/**
 * bench:transfer --rtt: how much round-trip time costs. The kernel here has no `netem`, so every
 * party connects through a TCP proxy on 127.0.0.1 that delays each direction by RTT/2 (delay-proxy.ts;
 * no throughput cap), the 0 ms case included, so that only the delay differs between rows. Per run
 * and RTT, interleaved: the raw libp2p stream (one stream, Noise + Yamux) and a fresh Pinery pinning
 * the origin's DAG, both through the proxy. Medians of MiB/s and the receivers' CPU-s/GiB.
 */
import { startDelayProxy, viaProxy } from './delay-proxy.js'
import { MiB, median, runPeer, startPeer, table } from './lib.js'
import { pineryRun } from './pinery-run.js'

/** What to sweep. */
export interface RttSweepInit {
  sizes: number[]
  rtts: number[]
  runs: number
  /** Pinery variants run side by side: a label and the settings it adds (e.g. `PINERY_STREAM_WINDOW_KIB=0`). */
  variants: Array<{ label: string, env: Record<string, string> }>
}

/** Parses `--pinery-env 'default;PINERY_X=1,PINERY_Y=2'` into variants. */
export function parseVariants (spec: string | undefined): RttSweepInit['variants'] {
  return (spec ?? 'default').split(';').map(v => v.trim()).filter(Boolean).map(v => v === 'default'
    ? { label: 'Pinery', env: {} }
    : { label: `Pinery ${v}`, env: Object.fromEntries(v.split(',').map(kv => kv.split('=', 2) as [string, string])) })
}

type Stats = { mibs: number[], cpu: number[], rss: number[] }
const stats = (): Stats => ({ mibs: [], cpu: [], rss: [] })

/** Runs the sweep and prints its tables. */
export async function rttSweep ({ sizes, rtts, runs, variants }: RttSweepInit): Promise<void> {
  const rows: Array<Array<string | number>> = []
  for (const n of sizes) {
    const origin = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n)])
    const addr = origin.value.addrs[0] as string
    const port = Number(/\/tcp\/(\d+)/.exec(addr)?.[1])
    const raw = new Map<number, Stats>(rtts.map(r => [r, stats()]))
    const pin = new Map<string, Stats>(rtts.flatMap(r => variants.map(v => [`${r} ${v.label}`, stats()] as const)))
    try {
      for (let i = 0; i < runs; i++) {
        for (const rtt of rtts) {
          const proxy = await startDelayProxy(port, rtt)
          try {
            const via = viaProxy(addr, proxy.port)
            const r = await runPeer<{ ms: number, cpuS: number }>(['raw', '--addr', via, '--mib', String(n)])
            const rs = raw.get(rtt) as Stats
            rs.mibs.push(n / (r.ms / 1000))
            rs.cpu.push(r.cpuS / (n / 1024))
            let line = `${n} MiB rtt ${rtt} ms run ${i + 1}: ` +
              `raw ${rs.mibs.at(-1)?.toFixed(1)} MiB/s ${rs.cpu.at(-1)?.toFixed(1)} CPU-s/GiB`
            for (const v of variants) {
              const p = await pineryRun(origin.value.cid, [via], v.env)
              const ps = pin.get(`${rtt} ${v.label}`) as Stats
              ps.mibs.push(n / (p.ms / 1000))
              ps.cpu.push(p.cpuS / (n / 1024))
              ps.rss.push(p.peakRssBytes)
              line += `; ${v.label} ${ps.mibs.at(-1)?.toFixed(1)} MiB/s ${ps.cpu.at(-1)?.toFixed(1)} CPU-s/GiB`
            }
            process.stderr.write(line + '\n')
          } finally {
            await proxy.close()
          }
        }
      }
    } finally {
      origin.child.kill('SIGTERM')
    }
    for (const v of variants) {
      const p0 = median(pin.get(`${rtts[0] as number} ${v.label}`)?.mibs ?? [])
      for (const rtt of rtts) {
        const rs = raw.get(rtt) as Stats
        const ps = pin.get(`${rtt} ${v.label}`) as Stats
        const r = median(rs.mibs)
        const p = median(ps.mibs)
        rows.push([`${n} MiB`, `${rtt} ms`, v.label, r.toFixed(1), rs.mibs.map(x => x.toFixed(0)).join(' / '),
          p.toFixed(1), ps.mibs.map(x => x.toFixed(0)).join(' / '), `${(100 * p / p0).toFixed(0)} %`,
          `${(p / r).toFixed(2)}×`,
          median(rs.cpu).toFixed(2), median(ps.cpu).toFixed(2), (median(ps.rss) / MiB).toFixed(0)])
      }
    }
  }
  process.stdout.write(`\nbench:transfer --rtt — medians of ${runs} runs, everything through the delaying proxy\n\n`)
  process.stdout.write(table(['size', 'RTT', 'receiver', 'raw MiB/s', 'runs', 'Pinery MiB/s', 'runs',
    'Pinery / own 0 ms (≥ 90 %)', 'Pinery / raw (≥ 0.7×)', 'raw CPU-s/GiB', 'Pinery CPU-s/GiB', 'Pinery peak RSS MiB'],
  rows) + '\n')
}
