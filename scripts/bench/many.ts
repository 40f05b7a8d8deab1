/**
 * bench:many — 10,000 single-block pins from one origin peer, POSTed as fast as the API takes
 * them (20 in flight); measures until every one is pinned. Then the same pins by a fresh kubo
 * daemon from the same origin, through its RPC API (`POST /api/v0/pin/add`, 20 in flight), the
 * way a script would drive kubo instead of Pinery.
 *
 *   npm run bench:many -- [--count 10000] [--in-flight 20] [--kubo true] [--runs 1]
 *     [--builds 'main=/path/to/other/dist/server.js,branch=dist/server.js']
 *
 * `--builds` runs several Pinery builds side by side: run by run, each build in turn (a fresh process
 * and data dir every time), then the medians per build; the load average is printed with each run.
 */
import { mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startKubo } from '../../test/fixtures/kubo.js'
import { SERVER, startServerProcess } from '../../test/fixtures/process.js'
import { KUBO_VERSION } from '../../test/fixtures/tools.js'
import { kuboRpc } from './kubo.js'
import { keepUntilExit } from './pinery-run.js'
import { serverEnv, cpuSeconds, manyBlock, median, MiB, peakRss, startPeer, table, waitSettled } from './lib.js'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    'in-flight': { type: 'string', default: '20' },
    kubo: { type: 'string', default: 'true' },
    runs: { type: 'string', default: '1' },
    builds: { type: 'string', default: `Pinery=${SERVER}` }
  }
})
const count = Number(values.count)
const inFlight = Number(values['in-flight'])
const runs = Number(values.runs)
const builds = values.builds.split(',').map(b => b.split('=') as [string, string])
const TOKEN = 'pinery_bench-many-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

/** Runs `call` for every CID, `inFlight` at once. */
async function each (cids: string[], call: (cid: string) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await call(cids[next++] as string)
  }))
}

const origin = await startPeer<{ addrs: string[] }>(['origin-many', '--count', String(count)])
const cids: string[] = []
for (let i = 0; i < count; i++) cids.push((await manyBlock(i)).cid.toString())
const rows: Array<Array<string | number>> = []
const settledIn = new Map<string, number[]>(builds.map(([name]) => [name, []]))
const cpuOf = new Map<string, number[]>(builds.map(([name]) => [name, []]))

/** One run of one build: a fresh Pinery process and data dir. */
async function runPinery (name: string, script: string, run: number): Promise<void> {
  const load = loadavg()[0]?.toFixed(1) ?? '-'
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-many-'))
  const own = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PINERY_')))
  const env = { ...serverEnv(dataDir, TOKEN), ...own as Record<string, string> }
  const server = await startServerProcess(env, script)
  try {
    const pid = server.child.pid as number
    const cpu0 = await cpuSeconds(pid)
    const started = performance.now()
    await each(cids, async cid => {
      const body = JSON.stringify({ cid, origins: origin.value.addrs })
      const res = await fetch(`${server.url}/pins`, { method: 'POST', headers, body })
      if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`)
    })
    const posted = performance.now()
    const pinned = await waitSettled(server.url, headers, count, started)
    const done = performance.now()
    const cpu = await cpuSeconds(pid) - cpu0
    const rss = await peakRss(pid)
    const seconds = (done - started) / 1000
    settledIn.get(name)?.push(seconds)
    cpuOf.get(name)?.push(cpu)
    rows.push([run, name, load, `${((posted - started) / 1000).toFixed(1)} s`, `${seconds.toFixed(1)} s`,
      `${pinned} / ${count}`, (pinned / seconds).toFixed(0), cpu.toFixed(1), (rss / MiB).toFixed(0)])
    process.stderr.write(`run ${run} ${name}: ${seconds.toFixed(1)} s, ${cpu.toFixed(1)} CPU-s, load ${load}\n`)
  } finally {
    await server.stop()
    // Removed when the bench exits, not now: on this machine's ext4 (no journal) every inode created
    // within ~30 s of many removals scans past the freed ones (recently_deleted() in the kernel's
    // find_inode_bit), so each run paid for the 10,000 block files the run before it removed. Perf
    // of one run right after such a removal: ~20 % of Pinery's samples in find_inode_bit,
    // recently_deleted and their block lookups (RESULTS.md, round six: many).
    keepUntilExit(dataDir)
  }
}

for (let run = 1; run <= runs; run++) {
  for (const [name, script] of builds) await runPinery(name, script, run)
}

if (values.kubo !== 'false') {
  const kubo = await startKubo()
  try {
    const pid = kubo.daemon.pid as number
    const cpu0 = await cpuSeconds(pid)
    const started = performance.now()
    await kuboRpc(kubo, 'swarm/connect', { arg: origin.value.addrs[0] as string })
    let pinned = 0
    await each(cids, async cid => {
      await kuboRpc(kubo, 'pin/add', { arg: cid, progress: 'false' })
      pinned++
    })
    const done = performance.now()
    const cpu = await cpuSeconds(pid) - cpu0
    const load = loadavg()[0]?.toFixed(1) ?? '-'
    rows.push(['-', `kubo ${KUBO_VERSION} (RPC pin/add)`, load, '-', `${((done - started) / 1000).toFixed(1)} s`,
      `${pinned} / ${count}`,
      (pinned / ((done - started) / 1000)).toFixed(0), cpu.toFixed(1), (await peakRss(pid) / MiB).toFixed(0)])
  } finally {
    await kubo.stop()
  }
}
origin.child.kill('SIGTERM')

process.stdout.write(`\nbench:many — ${count} single-block pins from one origin, ${inFlight} requests in flight\n\n`)
process.stdout.write(table(['run', 'receiver', 'load avg', 'POSTs accepted in', 'all settled in', 'pinned', 'pins/s',
  'receiver CPU-s', 'peak RSS MiB'], rows) + '\n\n')
const header = ['build', 'all settled in (median)', 'runs', 'receiver CPU-s (median)']
process.stdout.write(table(header, builds.map(([name]) => [
  name, `${median(settledIn.get(name) ?? []).toFixed(1)} s`,
  (settledIn.get(name) ?? []).map(t => t.toFixed(1)).join(' / '), median(cpuOf.get(name) ?? []).toFixed(1)
])) + '\n')
