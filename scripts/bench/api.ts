/**
 * bench:api — the API under load on a large data dir. Fills N pin records
 * over 10 users, starts Pinery on them in its own process, checks that every
 * query's `count` is exact, then drives each query with autocannon at 20
 * connections. POST /pins of identity CIDs runs against Pinery and, in the
 * same run, against mock-ipfs-pinning-service (the spec's in-memory mock).
 *
 * Start-up is measured first: Pinery starts on a copy of the filled dir with
 * no index snapshot (it rebuilds the index from every record), stops cleanly
 * (writing the snapshot), and starts again from the snapshot; each `--starts`
 * times, next to an empty node's start. RSS is read 2 s after the ready line
 * (all of it, and the anonymous part: RSS also counts LevelDB's mmapped table
 * files, page cache the kernel reclaims).
 * `--baseline` names another build's dist/server.js, started the same way in
 * the same run, interleaved; `--dir` keeps the filled dir for the next run.
 * `--restarts-only` skips the start without a snapshot (on 5M records it takes
 * minutes per build and run): the filled dir must hold a snapshot already,
 * from one start and clean stop of either build.
 *
 *   npm run bench:api -- [--records 1000000] [--seconds 10] [--connections 20]
 *     [--dir DIR] [--starts 3] [--baseline OTHER/dist/server.js] [--startup-only] [--restarts-only]
 */
import { spawn } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { SERVER, startServerProcess } from '../../test/fixtures/process.js'
import { MiB, median, peakRss, table } from './lib.js'
import type { Expected } from './fill.js'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    dir: { type: 'string' },
    starts: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    'startup-only': { type: 'boolean', default: false },
    'restarts-only': { type: 'boolean', default: false }
  }
})
process.env.PINERY_READY_TIMEOUT_MS ??= '300000'
const seconds = Number(values.seconds)
const connections = Number(values.connections)
const FILL = fileURLToPath(new URL('./fill.ts', import.meta.url))
const MOCK = createRequire(import.meta.url).resolve('mock-ipfs-pinning-service/cli.js')
const POST_BODY = JSON.stringify({ cid: 'bafkqaaa', name: 'bench' })

async function run (cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  const code = await new Promise(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${String(code)}`)
}

async function load (
  url: string, init: { method?: 'GET' | 'POST', token: string, body?: string }
): Promise<autocannon.Result> {
  return await autocannon({
    url,
    connections,
    duration: seconds,
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token}`, 'content-type': 'application/json' },
    ...(init.body != null ? { body: init.body } : {})
  })
}

const ENV = {
  PINERY_HTTP_PORT: '0',
  PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0',
  PINERY_ADMIN_TOKEN: 'pinery_bench-admin-token',
  PINERY_LOG_LEVEL: 'warn',
  PINERY_STALL_TIMEOUT_MS: '3600000'
}
const GET_HEADER = ['request', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx + errors', 'count (got / expected)']
const filled = values.dir ?? await mkdtemp(join(tmpdir(), 'pinery-bench-api-filled-'))
const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-api-'))

/** What one start measured: wall and CPU seconds to the ready line, RSS 2 s later, peak RSS. */
interface Start { seconds: number, cpu: number, rss: number, anon: number, peak: number }

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Ends the run after the start-up table. */
class StartupOnly extends Error {}

/** One start and clean stop: seconds to the ready line, RSS 2 s later and peak RSS. */
async function start (script: string, dataDir: string): Promise<Start> {
  const t = performance.now()
  const server = await startServerProcess({ ...ENV, PINERY_DATA_DIR: dataDir }, script)
  const seconds = (performance.now() - t) / 1000
  const cpu = await cpuSeconds(server.child.pid as number)
  await new Promise(resolve => setTimeout(resolve, 2000))
  const status = await readFile(`/proc/${server.child.pid as number}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
  await server.stop()
  return { seconds, cpu, rss: kib('VmRSS'), anon: kib('RssAnon'), peak: kib('VmHWM') }
}

/** Start-up side by side: empty node, rebuild without a snapshot, start from the snapshot; medians. */
async function startups (): Promise<string> {
  const builds = values.baseline == null
    ? [['this build', SERVER]]
    : [['baseline', values.baseline], ['this build', SERVER]]
  const kinds = values['restarts-only'] ? ['snapshot'] as const : ['rebuild', 'snapshot'] as const
  const runs = new Map<string, Array<Partial<Record<'rebuild' | 'snapshot', Start>> & { empty: Start }>>()
  for (let i = 0; i < Number(values.starts); i++) {
    for (const [label, script] of builds as Array<[string, string]>) {
      const work = await mkdtemp(join(tmpdir(), 'pinery-bench-start-'))
      try {
        const empty = await start(script, join(work, 'empty'))
        await cp(filled, join(work, 'full'), { recursive: true })
        const rebuild = values['restarts-only'] ? undefined : await start(script, join(work, 'full'))
        const snapshot = await start(script, join(work, 'full'))
        const row = { empty, snapshot, ...(rebuild != null ? { rebuild } : {}) }
        runs.set(label, [...(runs.get(label) ?? []), row])
        const each = Object.entries(row).map(([k, v]) =>
          `${k} ${v.seconds.toFixed(1)} s (${v.cpu.toFixed(1)} CPU-s) rss ${(v.rss / MiB).toFixed(0)} ` +
          `(anon ${(v.anon / MiB).toFixed(0)}) MiB`)
        process.stderr.write(`${label} run ${i + 1}: ${each.join(', ')}; load ${loadavg()[0]?.toFixed(1)}\n`)
      } finally {
        await rm(work, { recursive: true, force: true })
      }
    }
  }
  const rows: Array<Array<string | number>> = []
  for (const [label, list] of runs) {
    const emptyRss = median(list.map(r => r.empty.rss))
    for (const kind of kinds) {
      const of = list.map(r => ({ ...r, at: r[kind] as Start }))
      const med = (f: (r: (typeof of)[number]) => number): number => median(of.map(f))
      rows.push([label, kind === 'rebuild' ? 'first start (no snapshot)' : 'restart after a clean stop',
        med(r => r.at.seconds).toFixed(1), of.map(r => r.at.seconds.toFixed(1)).join(' / '),
        med(r => r.at.cpu).toFixed(1), med(r => r.empty.cpu).toFixed(1),
        (med(r => r.at.rss) / MiB).toFixed(0), (emptyRss / MiB).toFixed(0),
        (med(r => r.at.rss - r.empty.rss) / MiB).toFixed(0),
        (med(r => r.at.anon - r.empty.anon) / MiB).toFixed(0), (med(r => r.at.peak) / MiB).toFixed(0)])
    }
  }
  return table(['build', 'start', 'ready s (median)', 'each run', 'CPU-s to ready', 'empty node CPU-s',
    'RSS MiB', 'empty node RSS', 'above empty',
    'anonymous RSS above empty', 'peak RSS'], rows)
}

try {
  let t = performance.now()
  const fresh = await stat(join(filled, 'bench-expected.json')).then(() => false, () => true)
  if (fresh) await run(process.execPath, ['--import', 'tsx', FILL, '--dir', filled, '--records', values.records])
  const fillSeconds = (performance.now() - t) / 1000
  const expected = JSON.parse(await readFile(join(filled, 'bench-expected.json'), 'utf8')) as Expected
  const startTable = await startups()
  process.stdout.write(`\nbench:api start-up — ${values.records} records; ${values.starts} runs; ` +
    `RSS 2 s after ready\n\n${startTable}\n`)
  if (values['startup-only']) throw new StartupOnly()

  await cp(filled, dir, { recursive: true })
  t = performance.now()
  const server = await startServerProcess({ ...ENV, PINERY_DATA_DIR: dir })
  const startSeconds = (performance.now() - t) / 1000
  const rows: Array<Array<string | number>> = []
  try {
    rows.push(...await gets(server.url, expected))
    // POSTs go to another user so the GET answers above stay as filled.
    const adminToken = 'pinery_bench-admin-token'
    const pinery = await load(`${server.url}/pins`, { method: 'POST', token: adminToken, body: POST_BODY })
    rows.push(['POST /pins (Pinery)', pinery.requests.average.toFixed(0), pinery.latency.p50, pinery.latency.p99,
      pinery.non2xx + pinery.errors, ''])
    const rss = await peakRss(server.child.pid as number)

    const mock = spawn(process.execPath, [MOCK, '--port', '0', '--token', 'mock-token', '--loglevel', 'error'],
      { stdio: 'ignore' })
    await new Promise(resolve => setTimeout(resolve, 3000))
    const port = await listeningPort(mock.pid as number)
    const m = await load(`http://127.0.0.1:${port}/pins`, { method: 'POST', token: 'mock-token', body: POST_BODY })
    mock.kill()
    rows.push(['POST /pins (mock)', m.requests.average.toFixed(0), m.latency.p50, m.latency.p99,
      m.non2xx + m.errors, ''])

    process.stdout.write(`\nbench:api — ${values.records} records over 10 users; ` +
      `autocannon ${connections} connections x ${seconds} s per row\n`)
    process.stdout.write(`fill ${fresh ? `${fillSeconds.toFixed(1)} s` : 'reused'}; ` +
      `Pinery start-up on the filled dir ${startSeconds.toFixed(1)} s; ` +
      `Pinery peak RSS ${(rss / MiB).toFixed(0)} MiB\n\n`)
    process.stdout.write(table(GET_HEADER, rows) + '\n')
    process.stdout.write(`\nPOST ratio Pinery / mock: ${(pinery.requests.average / m.requests.average).toFixed(2)}x ` +
      '(every Pinery record is fsynced before its 202)\n')
  } finally {
    await server.stop()
  }
  if (values.baseline != null) {
    // The same GETs on the baseline build, on the same records (the POSTs above went to another user).
    const base = await startServerProcess({ ...ENV, PINERY_DATA_DIR: dir }, values.baseline)
    try {
      const baseRows = (await gets(base.url, expected))
        .map(([name, ...rest]) => [`${name as string} (baseline)`, ...rest])
      process.stdout.write('\n' + table(GET_HEADER, baseRows) + '\n')
    } finally {
      await base.stop()
    }
  }
} catch (err) {
  if (!(err instanceof StartupOnly)) throw err
} finally {
  await rm(dir, { recursive: true, force: true })
  if (values.dir == null) await rm(filled, { recursive: true, force: true })
}

/** Checks each query's count, then drives it with autocannon; one table row per query. */
async function gets (url: string, expected: Expected): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = []
  for (const q of expected.queries) {
    const res = await fetch(`${url}${q.path}`, { headers: { authorization: `Bearer ${expected.token}` } })
    const body = await res.json() as { count: number, results: unknown[] }
    const exact = res.status === 200 && body.count === q.count
    const r = await load(`${url}${q.path}`, { token: expected.token })
    rows.push([`GET ${q.name}`, r.requests.average.toFixed(0), r.latency.p50, r.latency.p99, r.non2xx + r.errors,
      `${body.count} / ${q.count} ${exact ? 'exact' : 'WRONG'}`])
    process.stderr.write(`${q.name}: ${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms, ` +
      `count ${exact ? 'exact' : 'WRONG'}\n`)
  }
  return rows
}

/** The TCP port a process listens on (the mock picks a free one with --port 0). */
async function listeningPort (pid: number): Promise<number> {
  const { readdir, readlink } = await import('node:fs/promises')
  const inodes = new Set<string>()
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
    const m = /^socket:\[(\d+)\]$/.exec(link)
    if (m != null) inodes.add(m[1] as string)
  }
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8')).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols[3] === '0A' && inodes.has(cols[9] as string)) {
        return parseInt((cols[1] as string).split(':')[1] as string, 16)
      }
    }
  }
  throw new Error('the mock is not listening')
}
