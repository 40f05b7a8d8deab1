/**
 * bench:events' parts that are not the run itself: reading a process's and the machine's CPU from /proc, the
 * service's GC totals, starting a receiver or the stream client, the watchers' tokens, and the summary table.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { setPriority } from 'node:os'
import { median, table } from './lib.js'

/**
 * User and system CPU seconds of a process so far, and of its main thread (the event loop); `waited`: the
 * seconds its main thread was ready to run but waited for a core (/proc/<pid>/task/<pid>/schedstat's
 * run_delay), what the 2 shared cores cost the event loop's critical path; `switches`: how often it gave up a
 * core (voluntary context switches: each is a sleep and a wake-up, which on busy cores may wait).
 */
export async function cpuSplit (pid: number):
Promise<{ user: number, sys: number, main: number, mainSys: number, waited: number, switches: number }> {
  const ticks = async (path: string): Promise<number[]> =>
    ((await readFile(path, 'utf8')).split(') ')[1]?.split(' ') ?? []).slice(11, 13).map(Number)
  const [user = 0, sys = 0] = await ticks(`/proc/${pid}/stat`)
  const [mu = 0, ms = 0] = await ticks(`/proc/${pid}/task/${pid}/stat`)
  const waited = Number((await readFile(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')).split(' ')[1]) / 1e9
  const status = await readFile(`/proc/${pid}/task/${pid}/status`, 'utf8')
  const switches = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1])
  return { user: user / 100, sys: sys / 100, main: (mu + ms) / 100, mainSys: ms / 100, waited, switches }
}

/** The machine's CPU ticks so far, busy and all (/proc/stat's first line): how saturated the cores were. */
export async function machineTicks (): Promise<{ busy: number, all: number }> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.split(/\s+/).slice(1, 9).map(Number) ?? []
  const all = fields.reduce((a, b) => a + b, 0)
  return { busy: all - (fields[3] ?? 0) - (fields[4] ?? 0), all }
}

/** The service's GC totals so far (gc-stats.mjs), or undefined without `--gc 1`. */
export interface GcTotals {
  young: { n: number, ms: number }
  old: { n: number, ms: number }
  promotedMB: number
  oldAllocMB: number
  /** With `--loop 1`: the event loop since the last report (delay percentiles in ms, utilization 0–1). */
  loop?: { p50: number, p99: number, max: number, elu: number }
}
export async function gcTotals (
  server: { child: ChildProcess, stderr: () => string }, enabled: boolean
): Promise<GcTotals | undefined> {
  if (!enabled) return undefined
  const lines = (): string[] => server.stderr().split('\n').filter(l => l.startsWith('gc-stats '))
  const before = lines().length
  server.child.kill('SIGUSR2')
  for (let i = 0; i < 100 && lines().length === before; i++) await new Promise(resolve => setTimeout(resolve, 20))
  const last = lines().at(-1)
  return last == null ? undefined : JSON.parse(last.slice('gc-stats '.length)) as GcTotals
}

/** A receiver's `/_stats`. */
export interface Stats {
  count: number
  deliveries: number
  p50: number
  p99: number
  max: number
  bad: number
  disorder?: number
  connections?: number
  reads?: number
}

/**
 * A receiver or the stream client (`args`: its file and arguments) at niceness `nice` (a number, or `idle`:
 * SCHED_IDLE).
 */
export async function startReceiver (nice: string, args: string[]): Promise<{ child: ChildProcess, url: string }> {
  const argv = [process.execPath, ...args]
  const [file, ...rest] = (nice === 'idle' ? ['chrt', '--idle', '0', ...argv] : argv) as [string, ...string[]]
  const child = spawn(file, rest, { stdio: ['ignore', 'pipe', 'inherit'] })
  if (nice !== 'idle' && Number(nice) !== 0) setPriority(child.pid as number, Number(nice))
  const port = await new Promise<number>((resolve) => {
    child.stdout?.once('data', (d: Buffer) => { resolve((JSON.parse(d.toString()) as { port: number }).port) })
  })
  return { child, url: `http://127.0.0.1:${port}` }
}

/** `n` admin-scope tokens of different admins: the bench's own, then new admin users'. */
export async function watcherTokens (base: string, token: string, n: number): Promise<string[]> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const tokens = [token]
  for (let i = 1; i < n; i++) {
    const post = async (path: string, body: unknown): Promise<Record<string, string>> => {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
      if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return await res.json() as Record<string, string>
    }
    await post('/users', { name: `watcher-${i}`, role: 'admin' })
    tokens.push((await post(`/users/watcher-${i}/tokens`, { scope: 'admin', label: 'bench' })).secret as string)
  }
  return tokens
}

/**
 * Per variant (0 = without), per round: seconds until settled, Pinery CPU-s until settled and until
 * delivered, the receivers' and stream client's CPU-s, the delivery lag p99 (ms).
 */
export interface Round {
  label: string
  settled: number
  cpu: number
  cpuAll: number
  others: number
  p99: number
  /** Young-generation GC ms and MB promoted until settled (NaN without `--gc 1`). */
  young: number
  promoted: number
}

/** A run's row of the table (see runOnce in events.ts) as a round's numbers. */
export function roundOf (row: string[]): Round {
  const field = (i: number, part?: number): number =>
    parseFloat(part == null ? row[i] as string : (row[i] as string).split(' / ')[part] ?? '')
  return {
    label: row[0] as string,
    settled: field(1),
    cpu: field(3),
    cpuAll: field(6),
    others: (row[7] as string).split(' + ').reduce((a, x) => a + parseFloat(x), 0),
    p99: field(8, 1),
    young: field(11, 0),
    promoted: field(11, 2)
  }
}

/**
 * The summary table: medians per variant, and each round's ratio to the same round's run without (the rounds
 * rotate the order, so a slow spell of the machine lands on all variants of a round alike).
 */
export function summary (byVariant: Round[][], comparedWith: number[]): string {
  const pct = (r: number): string => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %`
  return table(['variant', 'settled in (median)', 'vs without', 'per round vs without (median)',
    'pins/s per round vs without (median; issue 13: ≥ −10 %)',
    'Pinery CPU until settled (median)', 'vs without', 'per round vs without (median)',
    'Pinery CPU until delivered (median)', 'receivers + stream client CPU-s (median)', 'lag p99 (median)',
    'young GC until settled (median)', 'promoted until settled (median)'],
  byVariant.map((runs, v) => {
    const without = byVariant[comparedWith[v] ?? 0] ?? []
    const ratios = runs.map((r, i) => r.settled / (without[i]?.settled ?? NaN))
    const cpuRatios = runs.map((r, i) => r.cpu / (without[i]?.cpu ?? NaN))
    const notified = (f: (r: typeof runs[number]) => number, unit: string, digits = 1): string =>
      Number.isNaN(f(runs[0] as typeof runs[number])) ? '–' : `${median(runs.map(f)).toFixed(digits)} ${unit}`
    return [runs[0]?.label ?? '', `${median(runs.map(r => r.settled)).toFixed(2)} s`,
      pct(median(runs.map(r => r.settled)) / median(without.map(r => r.settled))),
      `${ratios.map(pct).join(' / ')} (${pct(median(ratios))})`,
      // Throughput is the inverse of the time to settle: +11.1 % in time is 10 % fewer pins/s.
      `${ratios.map(r => pct(1 / r)).join(' / ')} (${pct(median(ratios.map(r => 1 / r)))})`,
      `${median(runs.map(r => r.cpu)).toFixed(1)} s`,
      pct(median(runs.map(r => r.cpu)) / median(without.map(r => r.cpu))),
      `${cpuRatios.map(pct).join(' / ')} (${pct(median(cpuRatios))})`,
      notified(r => r.cpuAll, 's'), notified(r => r.others, 's'), notified(r => r.p99, 'ms', 0),
      Number.isNaN(runs[0]?.young) ? '–' : `${median(runs.map(r => r.young)).toFixed(0)} ms`,
      Number.isNaN(runs[0]?.promoted) ? '–' : `${median(runs.map(r => r.promoted)).toFixed(0)} MB`]
  }))
}
