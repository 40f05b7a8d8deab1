/**
 * bench:transfer --rtt: how much round-trip time costs. The kernel here has no `netem`, so every
 * party connects through a TCP proxy on 127.0.0.1 that delays each direction by RTT/2 (delay-proxy.ts;
 * no throughput cap), the 0 ms case included, so that only the delay differs between rows. Per run
 * and RTT, interleaved: the raw libp2p stream (one stream, Noise + Yamux) and a fresh Pinery pinning
 * the origin's DAG, both through the proxy. Medians of MiB/s and the receivers' CPU-s/GiB.
 * Each variant's origin runs the bitswap the variant names (ORIGIN_BITSWAP, else its PINERY_BITSWAP,
 * else helia): `--bitswap helia,lean` compares stock and lean pairs side by side.
 */
import { startDelayProxy, viaProxy, type DelayProxy } from './delay-proxy.js'
import { MiB, median, runPeer, startPeer, table } from './lib.js'
import { resolve } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { pineryRun } from './pinery-run.js'

/** What to sweep. */
export interface RttSweepInit {
  sizes: number[]
  rtts: number[]
  runs: number
  /** Pinery variants run side by side: a label and the settings it adds (e.g. `PINERY_STREAM_WINDOW_KIB=0`). */
  variants: Variant[]
}

/** One Pinery setup: its settings, the bitswap of the origin it pins from, and the build (default: dist/). */
export interface Variant { label: string, env: Record<string, string>, origin: string, script?: string }

/**
 * `--baseline 'main=/path/to/main/dist/server.js'`: every variant once more with that build, run
 * side by side with this one (labels get `[main]`; the build's own defaults apply).
 */
export function withBaseline (variants: Variant[], spec: string | undefined): Variant[] {
  if (spec == null) return variants
  const [label, script] = spec.split('=', 2) as [string, string | undefined]
  if (script == null) throw new Error('--baseline: expected label=path/to/dist/server.js')
  return [...variants, ...variants.map(v => ({ ...v, label: `${v.label} [${label}]`, script: resolve(script) }))]
}

/**
 * Parses `--pinery-env 'default;PINERY_X=1,PINERY_Y=2'` into variants; `ORIGIN_BITSWAP=lean` in a
 * variant sets its origin's bitswap (not passed to Pinery).
 */
export function parseVariants (spec: string | undefined): Variant[] {
  return (spec ?? 'default').split(';').map(v => v.trim()).filter(Boolean).map(v => {
    if (v === 'default') return { label: 'Pinery', env: {}, origin: 'helia' }
    const pairs = v.split(',').map(kv => kv.split('=', 2) as [string, string])
    const { ORIGIN_BITSWAP: origin, ...env } = Object.fromEntries(pairs)
    return { label: `Pinery ${v}`, env, origin: origin ?? env.PINERY_BITSWAP ?? 'helia' }
  })
}

/** Variants for `--bitswap helia,lean`: each Pinery pins from an origin with the same bitswap. */
export function bitswapVariants (list: string): Variant[] {
  return list.split(',').map(b => b.trim()).filter(Boolean)
    .map(b => ({ label: `Pinery ${b} ← ${b} origin`, env: { PINERY_BITSWAP: b }, origin: b }))
}

type Stats = { mibs: number[], cpu: number[], rss: number[] }
const stats = (): Stats => ({ mibs: [], cpu: [], rss: [] })

/** Runs the sweep and prints its tables. */
export async function rttSweep ({ sizes, rtts, runs, variants }: RttSweepInit): Promise<void> {
  const rows: Array<Array<string | number>> = []
  for (const n of sizes) {
    const origins = new Map<string, { child: ChildProcess, cid: string, addr: string, port: number }>()
    for (const b of new Set(variants.map(v => v.origin))) {
      const o = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n), '--bitswap', b])
      const addr = o.value.addrs[0] as string
      origins.set(b, { child: o.child, cid: o.value.cid, addr, port: Number(/\/tcp\/(\d+)/.exec(addr)?.[1]) })
    }
    const first = [...origins.values()][0] as { addr: string }
    const raw = new Map<number, Stats>(rtts.map(r => [r, stats()]))
    const pin = new Map<string, Stats>(rtts.flatMap(r => variants.map(v => [`${r} ${v.label}`, stats()] as const)))
    try {
      for (let i = 0; i < runs; i++) {
        for (const rtt of rtts) {
          const proxies = new Map<string, DelayProxy>()
          try {
            for (const [b, o] of origins) proxies.set(b, await startDelayProxy(o.port, rtt))
            const via = (b: string): string => viaProxy(origins.get(b)?.addr as string, proxies.get(b)?.port as number)
            const r = await runPeer<{ ms: number, cpuS: number }>(
              ['raw', '--addr', viaProxy(first.addr, [...proxies.values()][0]?.port as number), '--mib', String(n)])
            const rs = raw.get(rtt) as Stats
            rs.mibs.push(n / (r.ms / 1000))
            rs.cpu.push(r.cpuS / (n / 1024))
            let line = `${n} MiB rtt ${rtt} ms run ${i + 1}: ` +
              `raw ${rs.mibs.at(-1)?.toFixed(1)} MiB/s ${rs.cpu.at(-1)?.toFixed(1)} CPU-s/GiB`
            for (const v of variants) {
              const p = await pineryRun(origins.get(v.origin)?.cid as string, [via(v.origin)], v.env, v.script)
              const ps = pin.get(`${rtt} ${v.label}`) as Stats
              ps.mibs.push(n / (p.ms / 1000))
              ps.cpu.push(p.cpuS / (n / 1024))
              ps.rss.push(p.peakRssBytes)
              line += `; ${v.label} ${ps.mibs.at(-1)?.toFixed(1)} MiB/s ${ps.cpu.at(-1)?.toFixed(1)} CPU-s/GiB`
            }
            process.stderr.write(line + '\n')
          } finally {
            for (const proxy of proxies.values()) await proxy.close()
          }
        }
      }
    } finally {
      for (const o of origins.values()) o.child.kill('SIGTERM')
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
