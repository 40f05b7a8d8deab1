/**
 * bench:webhook-cost — the CPU of webhook delivery alone, per POST, without pinning around it:
 * one process per build runs that build's outbox (dist/webhooks) on a real LevelDB with an
 * in-memory event log fed `--rate` events a second (two per request, ~1 KB each, like
 * bench:events), delivering to `--webhooks` receiver processes (scripts/bench/hook-receiver.mjs)
 * on 127.0.0.1. Reports CPU-µs per POST of the delivering process (its main thread alone on stderr)
 * and of the receivers, and the time until every event reached every receiver. Written because
 * bench:events' wall clock mixes delivery with pinning on a shared machine; this tells one
 * delivery's cost apart, side by side.
 *
 *   node --import tsx scripts/bench/webhook-cost.ts [--events 20000] [--rate 2000] [--webhooks 3]
 *     [--runs 3] [--builds 'now=dist,main=/work/wt/base-events/dist'] [--receiver path/to/receiver.mjs]
 *     [--concurrency N] [--gather ms]   (outbox settings to try; default: each build's own)
 *
 * PINERY_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`) go to the delivering process,
 * RECEIVER_NODE_FLAGS to the receivers.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { median, table } from './lib.js'
import type { PinEventType } from '../../src/events/index.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '2000' },
    webhooks: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    builds: { type: 'string', default: 'now=dist' },
    receiver: { type: 'string', default: fileURLToPath(new URL('./hook-receiver.mjs', import.meta.url)) },
    /** Outbox settings to try (default: the build's own). */
    concurrency: { type: 'string' },
    gather: { type: 'string' },
    child: { type: 'string' },
    urls: { type: 'string' }
  }
})
const total = Number(values.events)

/** The child: one build's outbox delivering `total` events to `urls`. */
async function child (dist: string, urls: string[]): Promise<void> {
  const { Level } = await import('level')
  const load = async (file: string): Promise<unknown> => await import(pathToFileURL(join(dist, file)).href)
  const mod = await load('webhooks/index.js') as typeof import('../../src/webhooks/index.js')
  const { createLogger } = await load('logger.js') as typeof import('../../src/logger.js')
  const dir = await mkdtemp(join(tmpdir(), 'pinery-webhook-cost-'))
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  const logger = createLogger({ level: 'warn' })
  const logged: Array<{ id: number, event: any, json: string }> = []
  const listeners = new Set<(e: any) => void>()
  const events = {
    subscribe: (l: (e: any) => void) => { listeners.add(l); return () => { listeners.delete(l) } },
    published: () => logged.length,
    get: async (id: number) => logged[id - 1]?.json,
    async * read (after: number, upTo: number) { for (let id = after + 1; id <= upTo; id++) yield logged[id - 1] }
  }
  const store = await mod.createWebhookStore({ db })
  const policy = mod.createTargetPolicy({ allow: ['127.0.0.1'] })
  const outbox = mod.createOutbox({
    timeoutMs: 10_000, retryMinMs: 1000, retryMaxMs: 3_600_000, disableAfterMs: 86_400_000,
    ...(values.concurrency != null ? { concurrency: Number(values.concurrency) } : {}),
    ...(values.gather != null ? { gatherMs: Number(values.gather) } : {})
  },
  { db, store, events: events as any, policy, logger })
  await outbox.start()
  for (const url of urls) {
    const events: PinEventType[] = ['pin.queued', 'pin.pinned']
    const hook = await store.create({ owner: 'bench', all: false, url, events, description: '' })
    await outbox.add(hook.id)
    // The receiver checks every signature with it (the receiver on node:http ignores it).
    await fetch(url.replace(/\/hook$/, '/_secret'), { method: 'POST', body: hook.secret })
  }
  const origin = '/ip4/127.0.0.1/tcp/40123/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
  function emit (i: number): void {
    // Two events per request, the second 40 events after the first (as 20 pins in flight make them).
    const second = i % 2 === 1
    const r = second ? (i - 1) / 2 - 20 : i / 2
    const requestid = `0196f3a2-${String(Math.max(r, 0)).padStart(4, '0')}-7000-8000-${'0'.repeat(12)}`
    const event = {
      id: String(logged.length + 1),
      type: second ? 'pin.pinned' : 'pin.queued',
      time: new Date().toISOString(),
      user: 'bench',
      pin: {
        requestid, status: second ? 'pinned' : 'queued', created: new Date().toISOString(),
        pin: { cid: `bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku${i}`, origins: [origin] },
        delegates: [origin.replace('40123', '4001'), origin.replace('40123', '4002')],
        info: { status_details: second ? 'pinned 1 block, 1024 bytes' : 'waiting for a worker' }
      }
    }
    const e = { id: logged.length + 1, event, json: JSON.stringify(event) }
    logged.push(e)
    for (const l of listeners) l(e)
  }
  process.stdout.write(JSON.stringify({ ready: true }) + '\n')
  await new Promise(resolve => process.stdin.once('data', resolve))
  const perTick = Math.max(1, Math.round(Number(values.rate) / 200))
  let i = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (let k = 0; k < perTick && i < total; k++) emit(i++)
      if (i >= total) { clearInterval(timer); resolve() }
    }, 5)
  })
  await new Promise(resolve => process.stdin.once('data', resolve))
  await outbox.stop()
  await store.stop()
  await db.close()
  await rm(dir, { recursive: true, force: true })
  process.exit(0)
}

/** [user, system] CPU seconds of a process (or, with `tid`, one of its threads) so far. */
async function cpuSplit (pid: number, tid?: number): Promise<[number, number]> {
  const stat = await readFile(tid == null ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return [Number(fields[11]) / 100, Number(fields[12]) / 100]
}

/** CPU seconds per thread name of a process so far (main: the main thread; pool threads' numbers dropped). */
async function threadCpu (pid: number): Promise<Map<string, number>> {
  const byName = new Map<string, number>()
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    let stat: string
    try { stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8') } catch { continue }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const name = tid === String(pid) ? 'main' : comm.replace(/\d+$/, '')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100)
  }
  return byName
}

interface Stats {
  count: number
  deliveries: number
  p99: number
  bad: number
  reads?: number
  connections?: number
}
interface Receiver { child: ChildProcess, url: string }
async function startReceiver (): Promise<Receiver> {
  const flags = (process.env.RECEIVER_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  const c = spawn(process.execPath, [...flags, resolve(values.receiver)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve) => {
    c.stdout?.once('data', (d: Buffer) => { resolve((JSON.parse(d.toString()) as { port: number }).port) })
  })
  return { child: c, url: `http://127.0.0.1:${port}` }
}

async function runOnce (dist: string): Promise<{ wall: number, pinery: number, receivers: number, lagP99: number }> {
  const receivers = await Promise.all(Array.from({ length: Number(values.webhooks) }, startReceiver))
  const self = fileURLToPath(import.meta.url)
  const flags = (process.env.PINERY_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  const args = [...flags, '--import', 'tsx', self, '--child', dist, '--events', String(total), '--rate', values.rate,
    ...(values.concurrency != null ? ['--concurrency', values.concurrency] : []),
    ...(values.gather != null ? ['--gather', values.gather] : []),
    '--urls', receivers.map(r => `${r.url}/hook`).join(',')]
  const c = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve) => { c.stdout.once('data', () => { resolve() }) })
    const pid = c.pid as number
    const before = await cpuSplit(pid)
    const mainBefore = await cpuSplit(pid, pid)
    const threadsBefore = await threadCpu(pid)
    const rBefore = await Promise.all(receivers.map(async r => await cpuSplit(r.child.pid as number)))
    const started = performance.now()
    c.stdin.write('go\n')
    let stats: Stats[] = []
    for (;;) {
      await new Promise(resolve => setTimeout(resolve, 50))
      const counts = await Promise.all(receivers.map(async r =>
        await (await fetch(`${r.url}/_count`)).json() as { count: number, bad: number }))
      if (counts.some(s => s.bad > 0)) throw new Error('a receiver got a bad signature')
      if (counts.every(s => s.count >= total)) break
      if (performance.now() - started > 300_000) {
        throw new Error(`not delivered: ${counts.map(s => s.count).join(' / ')}`)
      }
    }
    const wall = (performance.now() - started) / 1000
    const after = await cpuSplit(pid)
    const mainAfter = await cpuSplit(pid, pid)
    const threadsAfter = await threadCpu(pid)
    const rAfter = await Promise.all(receivers.map(async r => await cpuSplit(r.child.pid as number)))
    stats = await Promise.all(receivers.map(async r => await (await fetch(`${r.url}/_stats`)).json() as Stats))
    const pinery = after[0] + after[1] - before[0] - before[1]
    const was = (k: number): [number, number] => rBefore[k] as [number, number]
    const rcv = rAfter.reduce((a, b, k) => a + b[0] + b[1] - was(k)[0] - was(k)[1], 0)
    const rcvSys = rAfter.reduce((a, b, k) => a + b[1] - was(k)[1], 0)
    const perRead = stats.map(s => s.reads == null ? '?' : (s.deliveries / s.reads).toFixed(1)).join(' / ')
    const main = (mainAfter[0] + mainAfter[1] - mainBefore[0] - mainBefore[1]) / (total * receivers.length)
    process.stderr.write(`  delivering process: main thread ${(main * 1e6).toFixed(1)} CPU-µs per POST; ` +
      `system CPU: delivering ${(after[1] - before[1]).toFixed(2)} s, ` +
      `receivers ${rcvSys.toFixed(2)} s; POSTs per read at the receiver: ${perRead}; ` +
      `connections: ${stats.map(s => s.connections ?? '?').join(' / ')}; CPU-µs per POST by thread: ` +
      [...threadsAfter].map(([name, s]) =>
        `${name} ${((s - (threadsBefore.get(name) ?? 0)) / (total * receivers.length) * 1e6).toFixed(1)}`).join(', ') +
        '\n')
    c.stdin.write('stop\n')
    await new Promise(resolve => c.once('exit', resolve))
    return { wall, pinery, receivers: rcv, lagP99: Math.max(...stats.map(s => s.p99)) }
  } finally {
    c.kill('SIGKILL')
    for (const r of receivers) r.child.kill('SIGTERM')
  }
}

if (values.child != null) {
  await child(values.child, (values.urls ?? '').split(','))
} else {
  const builds = values.builds.split(',').map((b) => {
    const [label, path] = b.split('=')
    return { label: label as string, dist: resolve(path as string) }
  })
  const results = new Map<string, Array<Awaited<ReturnType<typeof runOnce>>>>(builds.map(b => [b.label, []]))
  const posts = total * Number(values.webhooks)
  for (let run = 0; run < Number(values.runs); run++) {
    for (let k = 0; k < builds.length; k++) {
      const b = builds[(k + run) % builds.length] as { label: string, dist: string }
      const r = await runOnce(b.dist)
      results.get(b.label)?.push(r)
      process.stderr.write(`${b.label}: ${r.wall.toFixed(1)} s, ` +
        `delivering ${(r.pinery / posts * 1e6).toFixed(1)} µs/POST, ` +
        `receivers ${(r.receivers / posts * 1e6).toFixed(1)} ` +
        `µs/POST, lag p99 ${r.lagP99} ms, load ${loadavg()[0]?.toFixed(1)}\n`)
    }
  }
  const rows = builds.map(b => {
    const rs = results.get(b.label) ?? []
    const us = (f: (r: typeof rs[number]) => number): string =>
      rs.map(r => (f(r) / posts * 1e6).toFixed(1)).join(' / ')
    return [b.label, `${median(rs.map(r => r.wall)).toFixed(1)} s`,
      `${(median(rs.map(r => r.pinery)) / posts * 1e6).toFixed(1)} (${us(r => r.pinery)})`,
      `${(median(rs.map(r => r.receivers)) / posts * 1e6).toFixed(1)} (${us(r => r.receivers)})`,
      `${median(rs.map(r => r.lagP99))} ms`]
  })
  process.stdout.write(`\nwebhook cost — ${total} events × ${values.webhooks} webhooks at ${values.rate}/s\n\n` +
    table(['build', 'all delivered in', 'delivering CPU-µs per POST (runs)', 'receivers CPU-µs per POST (runs)',
      'lag p99'], rows) + '\n')
}
