/**
 * bench:events — bench:many's 10,000 single-block pins, once plain and once
 * with 3 webhooks (each its own receiver process, every event type) and 50
 * open GET /events streams. Reports pins/s of both (until every pin settled),
 * then, with notifications, how long until every event reached every webhook,
 * and the delivery lag (receipt − the event's `time`). Pinery's CPU is read
 * from /proc twice: until every pin settled, and until every event reached
 * every webhook (delivery may lag behind pinning; its work counts too), and
 * what the receivers and the stream client used on the same cores.
 *
 * `--server <dist/server.js>` runs another build than this tree's;
 * `--baseline [label=]<other build's dist/server.js>` (repeatable) adds, each
 * run, the same "with" run on that build, so a change is compared side by side
 * in one run; the order of the runs rotates from run to run. After the table, a
 * summary: each variant's medians, and each round's ratio to the same round's
 * run without (a slow spell of this shared machine hits a whole round), in time and in pins/s (issue 13 asks
 * for at most 10 % fewer pins/s, i.e. at most +11.1 % in time). Each
 * run's user / system / main-thread split of Pinery's CPU goes to stderr.
 *
 *   npm run bench:events -- [--count 10000] [--in-flight 20] [--streams 50] [--webhooks 3] [--runs 1]
 *     [--server path/to/dist/server.js] [--baseline label=path/to/dist/server.js …] [--receiver net|node]
 *     [--warmup 1] [--each-without 1]
 *
 * The receivers (hook-receiver.mjs) check every signature (with the secret the bench hands them after
 * registering), count bad ones, count every event once and check each pin request's events come in id
 * order; `--receiver node` runs the node:http receiver of earlier rounds, which does not check and costs
 * ~2.5× the CPU per POST on the same cores.
 *
 * `--nice 19` (the default) runs the receivers and the stream client at the lowest CPU priority: in a
 * deployment they are other machines, and on this 2-core machine their ~1 CPU-s per run otherwise
 * competes with Pinery as if it were Pinery's own cost. They still get every core-moment Pinery leaves
 * idle, so every event still reaches them (later: the delivery lag rises). `--nice 0` is the same-priority
 * mode of rounds four to seven; `--nice 19,0` runs both, side by side, as separate variants. `--nice idle`
 * runs them under SCHED_IDLE (`chrt --idle 0`): Linux then preempts them at once for any other task that
 * wakes, which nice 19 does not (a woken Pinery thread could wait for a nice-19 receiver's time slice to end).
 *
 * `--gc 1` (the default) preloads gc-stats.mjs into the service (through PINERY_NODE_FLAGS): each run also
 * reports, until settled, V8's young collections (ms, count), what they promoted to the old generation, what
 * was allocated in the old generation directly (pretenured objects, code) and the other GC pauses. `--gc 0`
 * runs the service without it.
 */
import { type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { MAX_STREAMS_PER_USER } from '../../src/http/event-routes.js'
import { SERVER, startServerProcess } from '../../test/fixtures/process.js'
import {
  cpuSplit, gcTotals, machineTicks, roundOf, startReceiver, summary, watcherTokens, type Round, type Stats
} from './events-parts.js'
import { cpuSeconds, serverEnv, manyBlock, MiB, peakRss, startPeer, table, waitSettled } from './lib.js'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    'in-flight': { type: 'string', default: '20' },
    streams: { type: 'string', default: '50' },
    webhooks: { type: 'string', default: '3' },
    runs: { type: 'string', default: '1' },
    /** Runs without notifications first, not counted (see `dataDirs`). */
    warmup: { type: 'string', default: '1' },
    baseline: { type: 'string', multiple: true },
    server: { type: 'string', default: SERVER },
    /** `net`: hook-receiver.mjs (checks every signature); `node`: hook-receiver-node.mjs (node:http, no checks). */
    receiver: { type: 'string', default: 'net' },
    /** The receivers' and stream client's niceness; a comma list runs each as its own variant. */
    nice: { type: 'string', default: '19' },
    /** 1: the service runs with gc-stats.mjs preloaded; its young collections and promotion are reported. */
    gc: { type: 'string', default: '1' },
    /** 1: with `--gc 1`, also the service's event-loop delay and utilization while pinning (a 1 ms timer). */
    loop: { type: 'string', default: '0' },
    /**
     * 1: each `--baseline` build also runs without notifications, and its runs with them are compared with
     * its own (for a change to the pin path itself, which moves both).
     */
    'each-without': { type: 'string', default: '0' }
  }
})
const count = Number(values.count)
const inFlight = Number(values['in-flight'])
const TOKEN = 'pinery_bench-events-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
const RECEIVER_FILE = values.receiver === 'node' ? './hook-receiver-node.mjs' : './hook-receiver.mjs'
const RECEIVER = fileURLToPath(new URL(RECEIVER_FILE, import.meta.url))
const SSE_CLIENTS = fileURLToPath(new URL('./sse-clients.mjs', import.meta.url))
const GC_STATS = fileURLToPath(new URL('./gc-stats.mjs', import.meta.url))
if (values.gc === '1') process.env.PINERY_NODE_FLAGS = `${process.env.PINERY_NODE_FLAGS ?? ''} --import ${GC_STATS}`
const TYPES = ['pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted']

/**
 * Every run's data dir, removed only when the bench ends. This machine's ext4 has no journal, and there
 * ext4 skips an inode deleted within the last 60 s (360 s while its table block is dirty) when it
 * allocates one, reading past each: a run that started just after the last run's 10,000 block files were
 * removed spent up to ~5 s more system time creating its own (perf: find_inode_bit, recently_deleted,
 * find_get_block_common in Pinery's fs threads), whichever variant it was. Removing them at the end took
 * Pinery's system time per run from 3.5–9.3 s to 3.3–3.8 s (2026-11-30). The first run still pays for what
 * was removed just before the bench (another bench's dirs): `--warmup` runs are not counted.
 */
const dataDirs: string[] = []

/** One run of the build `script`; with notifications when `notify`, their receivers at niceness `nice`. */
async function runOnce (
  origin: { addrs: string[], child: ChildProcess }, cids: string[], notify: boolean, script: string, label: string,
  nice = '0'
): Promise<string[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-events-'))
  dataDirs.push(dataDir)
  const server = await startServerProcess({
    ...serverEnv(dataDir, TOKEN),
    PINERY_WEBHOOK_ALLOW: '127.0.0.1',
    ...(values.loop === '1' ? { BENCH_LOOP_STATS: '1' } : {})
  }, script)
  const receivers = notify
    ? await Promise.all(Array.from({ length: Number(values.webhooks) },
        async () => await startReceiver(nice, [RECEIVER])))
    : []
  let clients: { child: ChildProcess, url: string } | undefined
  try {
    for (const r of receivers) {
      const body = JSON.stringify({ url: `${r.url}/hook`, events: TYPES })
      const res = await fetch(`${server.url}/webhooks`, { method: 'POST', headers, body })
      if (res.status !== 201) throw new Error(`webhook: ${res.status} ${await res.text()}`)
      // The receiver checks every delivery's signature with it.
      const { secret } = await res.json() as { secret: string }
      await fetch(`${r.url}/_secret`, { method: 'POST', body: secret })
    }
    if (notify && Number(values.streams) > 0) {
      // A user holds at most MAX_STREAMS_PER_USER: the streams are spread over admins (a team's dashboards),
      // each following every user's events.
      const watchers = await watcherTokens(server.url, TOKEN, Math.ceil(Number(values.streams) / MAX_STREAMS_PER_USER))
      clients = await startReceiver(nice, [SSE_CLIENTS, `${server.url}/events?all=true`, watchers.join(','),
        values.streams as string])
      // Every stream open before the first pin.
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    const gcBefore = await gcTotals(server, values.gc === '1')
    const cpuBefore = await cpuSeconds(server.child.pid as number)
    const splitBefore = await cpuSplit(server.child.pid as number)
    const [machineBefore, benchBefore, peerBefore] =
      [await machineTicks(), process.cpuUsage(), await cpuSeconds(origin.child.pid as number)]
    const started = performance.now()
    let next = 0
    // Each POST's time to its 202: with `inFlight` at once, pins/s is bounded by inFlight / this.
    const postMs: number[] = []
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const cid = cids[next++] as string
        const body = JSON.stringify({ cid, origins: origin.addrs })
        const t = performance.now()
        const res = await fetch(`${server.url}/pins`, { method: 'POST', headers, body })
        if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`)
        postMs.push(performance.now() - t)
      }
    }))
    const posted = performance.now()
    const pinned = await waitSettled(server.url, headers, count, started)
    const settled = performance.now()
    const cpu = (await cpuSeconds(server.child.pid as number) - cpuBefore).toFixed(1)
    const split = await cpuSplit(server.child.pid as number)
    const [machineAfter, benchUsed, peerAfter] =
      [await machineTicks(), process.cpuUsage(benchBefore), await cpuSeconds(origin.child.pid as number)]
    const gcAfter = await gcTotals(server, values.gc === '1')
    const gc = gcBefore == null || gcAfter == null
      ? '–'
      : `${(gcAfter.young.ms - gcBefore.young.ms).toFixed(0)} ms / ${gcAfter.young.n - gcBefore.young.n} / ` +
        `${(gcAfter.promotedMB - gcBefore.promotedMB).toFixed(0)} MB / ` +
        `${(gcAfter.oldAllocMB - gcBefore.oldAllocMB).toFixed(0)} MB / ` +
        `${(gcAfter.old.ms - gcBefore.old.ms).toFixed(0)} ms`
    process.stderr.write(`  Pinery until settled: user ${(split.user - splitBefore.user).toFixed(1)} s, system ` +
      `${(split.sys - splitBefore.sys).toFixed(1)} s, main thread ${(split.main - splitBefore.main).toFixed(1)} s ` +
      `(system ${(split.mainSys - splitBefore.mainSys).toFixed(1)} s) ` +
      `(waited for a core ${(split.waited - splitBefore.waited).toFixed(2)} s, ` +
      `${split.switches - splitBefore.switches} sleeps); ` +
      `GC young ms / count / promoted / allocated old / other pauses: ${gc}; ` +
      `load ${loadavg()[0]?.toFixed(1)}\n`)
    postMs.sort((a, b) => a - b)
    const q = (p: number): string =>
      (postMs[Math.min(postMs.length - 1, Math.floor(p * postMs.length))] ?? NaN).toFixed(1)
    const loop = gcAfter?.loop
    process.stderr.write(`  all POSTed in ${((posted - started) / 1000).toFixed(2)} s, settled ` +
      `${((settled - posted) / 1000).toFixed(2)} s later; POST → 202 p50 / p90 / p99 / max ${q(0.5)} / ${q(0.9)} / ` +
      `${q(0.99)} / ${q(1)} ms` + (loop == null
      ? '\n'
      : `; event loop delay p50 / p99 / max ${loop.p50} / ${loop.p99} / ${loop.max} ms, utilization ` +
        `${(loop.elu * 100).toFixed(0)} %\n`))
    process.stderr.write(`  the cores until settled: ${(100 * (machineAfter.busy - machineBefore.busy) /
      (machineAfter.all - machineBefore.all)).toFixed(0)} % busy; this bench ` +
      `${((benchUsed.user + benchUsed.system) / 1e6).toFixed(1)} CPU-s, ` +
      `the origin ${(peerAfter - peerBefore).toFixed(1)}\n`)
    const rss = await peakRss(server.child.pid as number)
    const rate = (pinned / ((settled - started) / 1000)).toFixed(0)
    if (!notify) {
      return [`without${label}`, `${((settled - started) / 1000).toFixed(1)} s`, rate, `${cpu} s`, '–', '–', '–', '–',
        '–', '–', (rss / MiB).toFixed(0), gc]
    }
    // Every event of the log, counted once through a fresh stream from the start.
    const total = await new Promise<number>((resolve) => {
      const controller = new AbortController()
      let n = 0
      // A chunk may end inside a line: the start of the last line is carried into the next chunk.
      let carry = ''
      let quiet: NodeJS.Timeout
      void fetch(`${server.url}/events?after=0`, { headers, signal: controller.signal }).then(async (res) => {
        const done = (): void => { controller.abort(); resolve(n) }
        quiet = setTimeout(done, 3000)
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            const text = carry + Buffer.from(chunk).toString()
            const cut = text.lastIndexOf('\n') + 1
            n += (text.slice(0, cut).match(/^id: /gm) ?? []).length
            carry = text.slice(cut)
            clearTimeout(quiet); quiet = setTimeout(done, 3000)
          }
        } catch {}
      })
    })
    if (total === 0) throw new Error('the event log read back empty')
    let stats: Stats[] = []
    for (;;) {
      const counts = await Promise.all(receivers.map(async r => await (await fetch(`${r.url}/_count`)).json() as Stats))
      if (counts.every(s => s.count >= total) || performance.now() - started > 600_000) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const delivered = performance.now()
    stats = await Promise.all(receivers.map(async r => await (await fetch(`${r.url}/_stats`)).json() as Stats))
    const bad = stats.reduce((a, s) => a + s.bad, 0)
    const disorder = stats.reduce((a, s) => a + (s.disorder ?? 0), 0)
    process.stderr.write(`  connections at each receiver: ${stats.map(s => s.connections ?? '?').join(' / ')}; ` +
      `POSTs per read: ${stats.map(s => s.reads == null ? '?' : (s.deliveries / s.reads).toFixed(1)).join(' / ')}\n`)
    const cpuDelivered = (await cpuSeconds(server.child.pid as number) - cpuBefore).toFixed(1)
    // What the receivers and the stream client spent on the same cores (since they started).
    const cpuOf = async (list: Array<{ child: ChildProcess }>): Promise<number> =>
      (await Promise.all(list.map(async o => await cpuSeconds(o.child.pid as number)))).reduce((x, y) => x + y, 0)
    const streamCpu = await cpuOf(clients != null ? [clients] : [])
    const othersCpu = `${(await cpuOf(receivers)).toFixed(1)} + ${streamCpu.toFixed(1)}`
    const p99 = Math.max(...stats.map(s => s.p99))
    const p50 = Math.max(...stats.map(s => s.p50))
    const streamed = clients == null ? 0 : (await (await fetch(`${clients.url}/_stats`)).json() as { min: number }).min
    return [`with ${receivers.length} webhooks + ${values.streams as string} streams${label}`,
      `${((settled - started) / 1000).toFixed(1)} s`, rate, `${cpu} s`,
      `${stats.map(s => s.count).join(' / ')} of ${total}${bad > 0 ? ` (${bad} bad signatures)` : ''}` +
      (disorder > 0 ? ` (${disorder} out of order)` : ''),
      `${((delivered - started) / 1000).toFixed(1)} s`,
      `${cpuDelivered} s`, `${othersCpu} s`, `${p50} / ${p99} ms`, `${streamed} of ${total}`, (rss / MiB).toFixed(0),
      gc]
  } finally {
    clients?.child.kill('SIGTERM')
    await server.stop()
    for (const r of receivers) r.child.kill('SIGTERM')
  }
}

const origin = await startPeer<{ addrs: string[] }>(['origin-many', '--count', String(count)])
const cids: string[] = []
for (let i = 0; i < count; i++) cids.push((await manyBlock(i)).cid.toString())
const rows: string[][] = []
const byVariant: Round[][] = []
/** Per variant: the variant without notifications it is compared with (0: this build's). */
const comparedWith: number[] = [0]
const from = { ...origin.value, child: origin.child }
try {
  const variants: Array<() => Promise<string[]>> = [
    async () => await runOnce(from, cids, false, values.server, '')
  ]
  const builds = (values.baseline ?? []).map(spec =>
    spec.includes('=') ? spec.split('=', 2) as [string, string] : ['baseline', spec] as [string, string])
  /** Per build label: the variant without notifications its runs with them are compared with. */
  const ownWithout = new Map<string, number>()
  if (values['each-without'] === '1') {
    for (const [label, path] of builds) {
      ownWithout.set(label, variants.length)
      comparedWith[variants.length] = variants.length
      variants.push(async () => await runOnce(from, cids, false, path, ` (${label})`))
    }
  }
  const nices = values.nice.split(',')
  for (const nice of nices) {
    const mode = nices.length > 1 || nice !== '19' ? ` [nice ${nice}]` : ''
    comparedWith[variants.length] = 0
    variants.push(async () => await runOnce(from, cids, true, values.server, mode, nice))
    for (const [label, path] of builds) {
      comparedWith[variants.length] = ownWithout.get(label) ?? 0
      variants.push(async () => await runOnce(from, cids, true, path, ` (${label})${mode}`, nice))
    }
  }
  for (let i = 0; i < Number(values.warmup); i++) {
    process.stderr.write(`warm-up, not counted: ${(await (variants[0] as () => Promise<string[]>)()).join(' | ')}\n`)
  }
  for (let run = 0; run < Number(values.runs); run++) {
    for (let i = 0; i < variants.length; i++) {
      const v = (i + run) % variants.length
      const row = await (variants[v] as () => Promise<string[]>)()
      process.stderr.write(`${row.join(' | ')}\n`)
      rows.push(row)
      ;(byVariant[v] ??= [])[run] = roundOf(row)
    }
  }
} finally {
  origin.child.kill('SIGTERM')
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true })
}
process.stdout.write(`\nbench:events — ${count} single-block pins from one origin, ${inFlight} POSTs in flight; ` +
  `receivers and stream client at nice ${values.nice}\n\n`)
process.stdout.write(table(['run', 'all settled in', 'pins/s', 'Pinery CPU until settled', 'events at each webhook',
  'all delivered in', 'Pinery CPU until delivered', 'receivers + stream client CPU-s', 'delivery lag p50 / p99',
  'events on the slowest stream',
  'Pinery peak RSS MiB', 'until settled: young GC ms / count / promoted / allocated old / other GC pauses'],
rows) + '\n')
process.stdout.write('\n' + summary(byVariant, comparedWith) + '\n')
