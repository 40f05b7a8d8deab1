/**
 * bench:transfer --rtt: how much round-trip time costs. The kernel here has no `netem`, so every
 * party connects through a TCP proxy on 127.0.0.1 that delays each direction by RTT/2 (delay-proxy.ts;
 * no throughput cap), the 0 ms case included, so that only the delay differs between rows. Per run
 * and RTT, interleaved: the raw libp2p stream (one stream, Noise + Yamux) and a fresh Pinery pinning
 * the origin's DAG, both through the proxy. Medians of MiB/s and the receivers' CPU-s/GiB.
 * Each variant's origin runs the bitswap the variant names (ORIGIN_BITSWAP: helia, lean, or kubo for a kubo
 * daemon; else its PINERY_BITSWAP, else helia): `--bitswap helia,lean` compares stock and lean pairs side by
 * side, `--pinery-env 'ORIGIN_BITSWAP=kubo'` pins from kubo.
 *
 * Round six added, next to the end-to-end numbers (the targets), a steady-state column (raw: first byte
 * to last byte; Pinery: first leaf to last block arrived) and two phase tables: each Pinery pin split by
 * its debug log (phases.ts: TCP, Noise chosen and done, connected, bitswap stream, root, first leaf and
 * last block in, last block stored, durable, settled, seen by the poll) and the raw stream's connected /
 * stream / first byte / last byte, with the round trips each takes beyond the 0 ms row.
 */
import { startDelayProxy, viaProxy, type DelayProxy } from './delay-proxy.js'
import { MiB, median, runPeer, startPeer, table } from './lib.js'
import { loadavg } from 'node:os'
import { resolve } from 'node:path'
import { startKuboOrigin } from './kubo.js'
import { pineryRun } from './pinery-run.js'
import { steadyMibs, type PinPhases, type RawPhases } from './phases.js'

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

interface Stats {
  mibs: number[]
  cpu: number[]
  rss: number[]
  steady: number[]
  ms: number[]
  phases: Array<Record<string, number>>
}
const stats = (): Stats => ({ mibs: [], cpu: [], rss: [], steady: [], ms: [], phases: [] })

/** Columns of the phase tables: a label and the phase's key (ms after the POST, or after the raw dial). */
const PINERY_PHASES: Array<[string, keyof PinPhases | 'seen']> = [['job', 'job'], ['TCP', 'tcp'],
  ['Noise chosen', 'secure'], ['Noise done', 'noise'], ['connected', 'connected'], ['bitswap stream', 'bitswap'],
  ['root in', 'root'], ['first leaf in', 'firstLeaf'], ['last block in', 'lastBlock'],
  ['last stored', 'lastStored'], ['durable', 'durable'],
  ['settled', 'settled'], ['seen', 'seen']]
const RAW_PHASES: Array<[string, keyof RawPhases]> = [['connected', 'connectedMs'], ['stream', 'streamMs'],
  ['first byte', 'firstByteMs'], ['last byte', 'ms']]

const fmt = (x: number, digits = 0): string => Number.isNaN(x) ? '–' : x.toFixed(digits)
const medianOf = (s: Stats, key: string): number => {
  const xs = s.phases.map(p => p[key] as number).filter(x => !Number.isNaN(x))
  return xs.length === 0 ? NaN : median(xs)
}
/** Round trips a phase took longer than at the first RTT (0 ms): (median at RTT − median at 0) / RTT. */
const extraRtts = (s: Stats, s0: Stats, key: string, rtt: number): string =>
  rtt === 0 ? '–' : fmt((medianOf(s, key) - medianOf(s0, key)) / rtt, 1)

/** A bench peer (peer.ts) holding `mib` MiB, serving it with bitswap `b` (helia or lean). */
async function benchOrigin (mib: number, b: string): Promise<{ stop: () => Promise<void>, cid: string, addr: string }> {
  const o = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(mib), '--bitswap', b])
  return { stop: async () => { o.child.kill('SIGTERM') }, cid: o.value.cid, addr: o.value.addrs[0] as string }
}

/** A kubo daemon (`ORIGIN_BITSWAP=kubo`): the origin kubo users pin from, go-libp2p and boxo's bitswap. */
async function kuboOrigin (mib: number): Promise<{ stop: () => Promise<void>, cid: string, addr: string }> {
  const { kubo, cid } = await startKuboOrigin(mib)
  return { stop: async () => { await kubo.stop() }, cid, addr: kubo.addrs[0] as string }
}

/** Runs the sweep and prints its tables. */
export async function rttSweep ({ sizes, rtts, runs, variants }: RttSweepInit): Promise<void> {
  const rows: Array<Array<string | number>> = []
  const phaseRows: Array<Array<string | number>> = []
  const rawPhaseRows: Array<Array<string | number>> = []
  for (const n of sizes) {
    const origins = new Map<string, { stop: () => Promise<void>, cid: string, addr: string, port: number }>()
    // The raw stream needs a bench peer on the far side, so a Helia origin runs whenever only kubo was asked for.
    const kinds = new Set(variants.map(v => v.origin))
    if ([...kinds].every(b => b === 'kubo')) kinds.add('helia')
    for (const b of kinds) {
      const o = b === 'kubo' ? await kuboOrigin(n) : await benchOrigin(n, b)
      origins.set(b, { ...o, port: Number(/\/tcp\/(\d+)/.exec(o.addr)?.[1]) })
    }
    const first = [...origins.entries()].find(([b]) => b !== 'kubo')?.[1] as { addr: string }
    const raw = new Map<number, Stats>(rtts.map(r => [r, stats()]))
    const pin = new Map<string, Stats>(rtts.flatMap(r => variants.map(v => [`${r} ${v.label}`, stats()] as const)))
    try {
      for (let i = 0; i < runs; i++) {
        for (const rtt of rtts) {
          const proxies = new Map<string, DelayProxy>()
          try {
            for (const [b, o] of origins) proxies.set(b, await startDelayProxy(o.port, rtt))
            const via = (b: string): string => viaProxy(origins.get(b)?.addr as string, proxies.get(b)?.port as number)
            const r = await runPeer<RawPhases & { cpuS: number }>(
              ['raw', '--addr', viaProxy(first.addr, [...proxies.values()][0]?.port as number), '--mib', String(n)])
            const rs = raw.get(rtt) as Stats
            rs.mibs.push(n / (r.ms / 1000))
            rs.cpu.push(r.cpuS / (n / 1024))
            rs.ms.push(r.ms)
            rs.steady.push(steadyMibs(n, r.firstByteMs, r.ms, 0))
            rs.phases.push({ connectedMs: r.connectedMs, streamMs: r.streamMs, firstByteMs: r.firstByteMs, ms: r.ms })
            let line = `${n} MiB rtt ${rtt} ms run ${i + 1} (load ${loadavg()[0]?.toFixed(1) ?? '?'}): ` +
              `raw ${rs.mibs.at(-1)?.toFixed(1)} MiB/s ${rs.cpu.at(-1)?.toFixed(1)} CPU-s/GiB`
            for (const v of variants) {
              const p = await pineryRun(origins.get(v.origin)?.cid as string, [via(v.origin)], v.env, v.script,
                { phases: true })
              const ps = pin.get(`${rtt} ${v.label}`) as Stats
              ps.mibs.push(n / (p.ms / 1000))
              ps.cpu.push(p.cpuS / (n / 1024))
              ps.rss.push(p.peakRssBytes)
              ps.ms.push(p.ms)
              const phases = { ...(p.phases as PinPhases), seen: p.ms }
              ps.phases.push(phases)
              ps.steady.push(steadyMibs(n, phases.firstLeaf, phases.lastBlock))
              line += `; ${v.label} ${ps.mibs.at(-1)?.toFixed(1)} MiB/s ${ps.cpu.at(-1)?.toFixed(1)} CPU-s/GiB`
            }
            process.stderr.write(line + '\n')
          } finally {
            for (const proxy of proxies.values()) await proxy.close()
          }
        }
      }
    } finally {
      for (const o of origins.values()) await o.stop()
    }
    const r0 = raw.get(rtts[0] as number) as Stats
    for (const rtt of rtts) {
      const rs = raw.get(rtt) as Stats
      rawPhaseRows.push([`${n} MiB`, `${rtt} ms`, ...RAW_PHASES.map(([, k]) => fmt(medianOf(rs, k))),
        extraRtts(rs, r0, 'firstByteMs', rtt), extraRtts(rs, r0, 'ms', rtt), fmt(finiteMedian(rs.steady), 1)])
    }
    for (const v of variants) {
      const s0 = pin.get(`${rtts[0] as number} ${v.label}`) as Stats
      const p0 = median(s0.mibs)
      for (const rtt of rtts) {
        const rs = raw.get(rtt) as Stats
        const ps = pin.get(`${rtt} ${v.label}`) as Stats
        const r = median(rs.mibs)
        const p = median(ps.mibs)
        rows.push([`${n} MiB`, `${rtt} ms`, v.label, r.toFixed(1), rs.mibs.map(x => x.toFixed(0)).join(' / '),
          p.toFixed(1), ps.mibs.map(x => x.toFixed(0)).join(' / '), `${(100 * p / p0).toFixed(0)} %`,
          `${(p / r).toFixed(2)}×`, fmt(finiteMedian(rs.steady), 1), fmt(finiteMedian(ps.steady), 1),
          median(rs.cpu).toFixed(2), median(ps.cpu).toFixed(2), (median(ps.rss) / MiB).toFixed(0)])
        phaseRows.push([`${n} MiB`, `${rtt} ms`, v.label, ...PINERY_PHASES.map(([, k]) => fmt(medianOf(ps, k))),
          extraRtts(ps, s0, 'firstLeaf', rtt), extraRtts(ps, s0, 'seen', rtt)])
      }
    }
  }
  process.stdout.write(`\nbench:transfer --rtt — medians of ${runs} runs, everything through the delaying proxy; ` +
    'end to end (the targets) and steady state (raw: first byte → last byte; Pinery: first leaf → last block ' +
    'arrived)\n\n')
  process.stdout.write(table(['size', 'RTT', 'receiver', 'raw MiB/s', 'runs', 'Pinery MiB/s', 'runs',
    'Pinery / own 0 ms (≥ 90 %)', 'Pinery / raw (≥ 0.7×)', 'raw steady MiB/s', 'Pinery steady MiB/s',
    'raw CPU-s/GiB', 'Pinery CPU-s/GiB', 'Pinery peak RSS MiB'], rows) + '\n')
  process.stdout.write('\nPhases of a Pinery pin, ms after the POST (medians; from its debug log, see phases.ts; ' +
    '– where the build does not log it); the last two columns: round trips more than at 0 ms\n\n')
  process.stdout.write(table(['size', 'RTT', 'receiver', ...PINERY_PHASES.map(([label]) => label),
    'RTTs to first leaf', 'RTTs end to end'], phaseRows) + '\n')
  process.stdout.write('\nPhases of the raw stream, ms after its dial (medians)\n\n')
  process.stdout.write(table(['size', 'RTT', ...RAW_PHASES.map(([label]) => label), 'RTTs to first byte',
    'RTTs end to end', 'steady MiB/s'], rawPhaseRows) + '\n')
}

/** The median of the numbers that are not NaN (NaN if none). */
function finiteMedian (xs: number[]): number {
  const finite = xs.filter(x => Number.isFinite(x))
  return finite.length === 0 ? NaN : median(finite)
}
