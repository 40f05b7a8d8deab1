/**
 * bench:api — the API under load on a large data dir. Fills N pin records
 * over 10 users, starts Pinery on them in its own process, checks that every
 * query's `count` is exact, then drives each query with autocannon at 20
 * connections. POST /pins of identity CIDs runs against Pinery and, in the
 * same run, against mock-ipfs-pinning-service (the spec's in-memory mock).
 *
 *   npm run bench:api -- [--records 1000000] [--seconds 10] [--connections 20]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { startServerProcess } from '../../test/fixtures/process.js'
import { MiB, peakRss, table } from './lib.js'
import type { Expected } from './fill.js'

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '20' } } })
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

async function load (url: string, init: { method?: 'GET' | 'POST', token: string, body?: string }): Promise<autocannon.Result> {
  return await autocannon({
    url,
    connections,
    duration: seconds,
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token}`, 'content-type': 'application/json' },
    ...(init.body != null ? { body: init.body } : {})
  })
}

const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-api-'))
try {
  let t = performance.now()
  await run(process.execPath, ['--import', 'tsx', FILL, '--dir', dir, '--records', values.records])
  const fillSeconds = (performance.now() - t) / 1000
  const expected = JSON.parse(await readFile(join(dir, 'bench-expected.json'), 'utf8')) as Expected

  t = performance.now()
  const server = await startServerProcess({ PINERY_DATA_DIR: dir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: 'pinery_bench-admin-token', PINERY_LOG_LEVEL: 'warn', PINERY_STALL_TIMEOUT_MS: '3600000' })
  const startSeconds = (performance.now() - t) / 1000
  const rows: Array<Array<string | number>> = []
  try {
    for (const q of expected.queries) {
      const res = await fetch(`${server.url}${q.path}`, { headers: { authorization: `Bearer ${expected.token}` } })
      const body = await res.json() as { count: number, results: unknown[] }
      const exact = res.status === 200 && body.count === q.count
      const r = await load(`${server.url}${q.path}`, { token: expected.token })
      rows.push([`GET ${q.name}`, r.requests.average.toFixed(0), r.latency.p50, r.latency.p99, r.non2xx + r.errors, `${body.count} / ${q.count} ${exact ? 'exact' : 'WRONG'}`])
      process.stderr.write(`${q.name}: ${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms, count ${exact ? 'exact' : 'WRONG'}\n`)
    }
    // POSTs go to another user so the GET answers above stay as filled.
    const adminToken = 'pinery_bench-admin-token'
    const pinery = await load(`${server.url}/pins`, { method: 'POST', token: adminToken, body: POST_BODY })
    rows.push(['POST /pins (Pinery)', pinery.requests.average.toFixed(0), pinery.latency.p50, pinery.latency.p99, pinery.non2xx + pinery.errors, ''])
    const rss = await peakRss(server.child.pid as number)

    const mock = spawn(process.execPath, [MOCK, '--port', '0', '--token', 'mock-token', '--loglevel', 'error'], { stdio: 'ignore' })
    await new Promise(resolve => setTimeout(resolve, 3000))
    const port = await listeningPort(mock.pid as number)
    const m = await load(`http://127.0.0.1:${port}/pins`, { method: 'POST', token: 'mock-token', body: POST_BODY })
    mock.kill()
    rows.push(['POST /pins (mock)', m.requests.average.toFixed(0), m.latency.p50, m.latency.p99, m.non2xx + m.errors, ''])

    process.stdout.write(`\nbench:api — ${values.records} records over 10 users; autocannon ${connections} connections x ${seconds} s per row\n`)
    process.stdout.write(`fill ${fillSeconds.toFixed(1)} s; Pinery start-up on the filled dir ${startSeconds.toFixed(1)} s; Pinery peak RSS ${(rss / MiB).toFixed(0)} MiB\n\n`)
    process.stdout.write(table(['request', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx + errors', 'count (got / expected)'], rows) + '\n')
    process.stdout.write(`\nPOST ratio Pinery / mock: ${(pinery.requests.average / m.requests.average).toFixed(2)}x (every Pinery record is fsynced before its 202)\n`)
  } finally {
    await server.stop()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
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
      if (cols[3] === '0A' && inodes.has(cols[9] as string)) return parseInt((cols[1] as string).split(':')[1] as string, 16)
    }
  }
  throw new Error('the mock is not listening')
}
