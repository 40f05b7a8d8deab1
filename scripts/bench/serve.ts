/**
 * bench:serve — Pinery as the origin. A Pinery process pins an N MiB DAG (256 KiB raw leaves,
 * CIDv1, from a Helia origin peer), then per run, interleaved:
 *   raw    the bench origin sends N MiB over one raw libp2p stream (TCP + Noise + Yamux): the
 *          sender's CPU is read from /proc of the origin process around the transfer
 *   bitswap  another Helia peer (peer.ts `fetch`: Pinery's wide walker, 256 blocks in flight,
 *          keeping nothing) fetches the DAG from Pinery; Pinery's CPU from /proc around it
 *   disk   this process reads every block file under <data dir>/blocks (readFile, 16 at once, as
 *          many as the CAR export reads ahead), listed before the clock starts: the CAR knows its
 *          blocks too. The page cache is warm for both: the bitswap run just read every block, and
 *          the CAR follows the disk read at once
 *   car    GET /ipfs/<cid>?format=car from Pinery, the body read to the end by curl into /dev/null
 *          (fetch() would cost this process 1.4–1.6 CPU-s/GiB, more than Pinery's side: measured);
 *          Pinery's CPU from /proc likewise
 *
 *   npm run bench:serve -- [--mib 256] [--runs 3] [--bitswap helia,lean] [--steps raw,bitswap,disk,car]
 *                          [--baseline [label=]path/to/other/dist/server.js …]
 *
 * `--bitswap` runs one Pinery per bitswap (PINERY_BITSWAP), each pinning the DAG first; `--baseline`
 * (repeatable) adds the same for another build, side by side in the same runs. The bitswap and CAR
 * steps run against each Pinery in turn (the fetching peer is stock Helia for all; the order rotates
 * from run to run), disk against the first. `--steps` leaves steps out (a profile of one step).
 *
 * Reports medians of MiB/s and sender CPU-s/GiB, the ratios the issue sets targets for, and the bitswap
 * serves' CPU split by thread (main thread, V8's GC and compiler helpers, libuv's pool) next to the raw
 * sender's, read from /proc/<pid>/task/<tid>/stat (threadCpu).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SERVER, startServerProcess, type ServerProcess } from '../../test/fixtures/process.js'
import {
  serverEnv, cpuSeconds, curlBytes, listFiles, median, MiB, peakRss, readAll, runPeer, startPeer, table, threadCpu
} from './lib.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    bitswap: { type: 'string', default: 'lean' },
    steps: { type: 'string', default: 'raw,bitswap,disk,car' },
    baseline: { type: 'string', multiple: true }
  }
})
const list = (s: string): string[] => s.split(',').map(b => b.trim()).filter(Boolean)
const bitswaps = list(values.bitswap)
const steps = new Set(list(values.steps))
const builds = [{ label: 'this build', script: SERVER }, ...(values.baseline ?? []).map((spec) => {
  const [label, script] = spec.includes('=') ? spec.split('=', 2) as [string, string] : ['baseline', spec]
  return { label, script }
})]
const n = Number(values.mib)
const runs = Number(values.runs)
const TOKEN = 'pinery_bench-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

interface Sender {
  name: string
  dataDir: string
  server: ServerProcess
  bs: number[]
  bsCpu: number[]
  car: number[]
  carCpu: number[]
  carDisk: number[]
  /** CPU-s/GiB of each bitswap serve by thread name and kind (main thread, libuv pool, V8 GC helpers). */
  bsThreads: Map<string, number[]>
}
const origin = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n)])
/** One Pinery per build and bitswap; the first also serves the disk step. */
const senders: Sender[] = []
const series = (): number[] => []
for (const build of builds) {
  for (const bitswap of bitswaps) {
    const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-serve-'))
    senders.push({
      name: builds.length > 1 ? `${build.label}, ${bitswap}` : bitswap,
      dataDir: dir,
      server: await startServerProcess({
        ...serverEnv(dir, TOKEN), PINERY_GATEWAY_AUTH: 'token', PINERY_BITSWAP: bitswap
      }, build.script),
      bs: series(), bsCpu: series(), car: series(), carCpu: series(), carDisk: series(), bsThreads: new Map()
    })
  }
}
const originPid = origin.child.pid as number
const cid = origin.value.cid
const s = { raw: series(), rawCpu: series(), disk: series() }
const rawThreads = new Map<string, number[]>()
/** Adds each thread's CPU since `before` (per GiB of `bytes`) to `into`. */
const addThreads = async (pid: number, before: Map<string, number>, bytes: number,
  into: Map<string, number[]>): Promise<void> => {
  for (const [name, cpu] of await threadCpu(pid)) {
    const xs = into.get(name) ?? []
    into.set(name, xs)
    xs.push(perGiB(bytes, cpu - (before.get(name) ?? 0)))
  }
}
const perGiB = (bytes: number, cpu: number): number => cpu / (bytes / 1024 / MiB)
const rate = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000)
const f = (x: number | undefined, d = 1): string => x?.toFixed(d) ?? '-'
try {
  const body = JSON.stringify({ cid, origins: origin.value.addrs })
  for (const { server: sender } of senders) {
    const created = await (await fetch(`${sender.url}/pins`, { method: 'POST', headers, body }))
      .json() as { requestid: string }
    for (;;) {
      const res = await fetch(`${sender.url}/pins/${created.requestid}`, { headers })
      const st = await res.json() as { status: string }
      if (st.status === 'pinned') break
      if (st.status === 'failed') throw new Error('pin failed')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  for (let i = 0; i < runs; i++) {
    const order = senders.map((_, j) => senders[(i + j) % senders.length] as Sender)
    const notes: string[] = []
    if (steps.has('raw')) {
      const t0 = await threadCpu(originPid)
      const c0 = await cpuSeconds(originPid)
      const r = await runPeer<{ ms: number }>(['raw', '--addr', origin.value.addrs[0] as string, '--mib', String(n)])
      s.raw.push(rate(n * MiB, r.ms))
      s.rawCpu.push(perGiB(n * MiB, await cpuSeconds(originPid) - c0))
      await addThreads(originPid, t0, n * MiB, rawThreads)
      notes.push(`raw ${f(s.raw.at(-1))} MiB/s sender ${f(s.rawCpu.at(-1), 2)} CPU-s/GiB`)
    }
    for (const sender of steps.has('bitswap') ? order : []) {
      const senderPid = sender.server.child.pid as number
      const t0 = await threadCpu(senderPid)
      const c0 = await cpuSeconds(senderPid)
      const b = await runPeer<{ ms: number, bytes: number }>(
        ['fetch', '--addr', sender.server.delegates[0] as string, '--cid', cid])
      sender.bs.push(rate(b.bytes, b.ms))
      sender.bsCpu.push(perGiB(b.bytes, await cpuSeconds(senderPid) - c0))
      await addThreads(senderPid, t0, b.bytes, sender.bsThreads)
      notes.push(`bitswap ${sender.name} ${f(sender.bs.at(-1))} MiB/s Pinery ${f(sender.bsCpu.at(-1), 2)} CPU-s/GiB`)
    }
    for (const sender of steps.has('car') || steps.has('disk') ? order : []) {
      // A disk read right before each CAR: both on the same warm page cache.
      if (steps.has('disk')) {
        const files = await listFiles(join(sender.dataDir, 'blocks'))
        const t0 = performance.now()
        const diskBytes = await readAll(files)
        const disk = rate(diskBytes, performance.now() - t0)
        if (sender === senders[0]) s.disk.push(disk)
        sender.carDisk.push(disk)
        notes.push(`disk ${f(disk, 0)} MiB/s (${f(diskBytes / MiB)} MiB)`)
      }
      if (!steps.has('car')) continue
      const pid = sender.server.child.pid as number
      const c0 = await cpuSeconds(pid)
      const t0 = performance.now()
      const carBytes = await curlBytes(`${sender.server.url}/ipfs/${cid}?format=car`, `Bearer ${TOKEN}`)
      sender.car.push(rate(carBytes, performance.now() - t0))
      sender.carCpu.push(perGiB(carBytes, await cpuSeconds(pid) - c0))
      notes.push(`CAR ${sender.name} ${f(sender.car.at(-1))} MiB/s (${f(carBytes / MiB)} MiB) ` +
        `Pinery ${f(sender.carCpu.at(-1), 2)} CPU-s/GiB`)
    }
    process.stderr.write(`run ${i + 1}: ${notes.join('; ')}\n`)
  }
  const rss = await Promise.all(senders.map(async x => await peakRss(x.server.child.pid as number)))
  const runsOf = (xs: number[]): string => xs.map(x => x.toFixed(1)).join(' / ')
  const med = (xs: number[], d: number): string => xs.length > 0 ? median(xs).toFixed(d) : '-'
  process.stdout.write(`\nbench:serve — ${n} MiB DAG, medians of ${runs} runs; Pinery peak RSS ` +
    `${senders.map((x, i) => `${x.name} ${((rss[i] as number) / MiB).toFixed(0)} MiB`).join(', ')}\n\n`)
  process.stdout.write(table(['path', 'MiB/s (median)', 'runs', 'sender CPU-s/GiB (median)', 'runs'], [
    ['raw libp2p stream, Helia sender', med(s.raw, 1), runsOf(s.raw), med(s.rawCpu, 2), runsOf(s.rawCpu)],
    ...senders.map(x => [`bitswap, Pinery (${x.name}) sender → Helia peer`, med(x.bs, 1), runsOf(x.bs),
      med(x.bsCpu, 2), runsOf(x.bsCpu)]),
    ['block files read from disk', med(s.disk, 1), runsOf(s.disk), '-', '-'],
    ...senders.map(x => [`GET ?format=car from Pinery (${x.name})`, med(x.car, 1), runsOf(x.car), med(x.carCpu, 2),
      runsOf(x.carCpu)])
  ]) + '\n\n')
  process.stdout.write(table(['ratio', 'measured', 'target'], [
    ...senders.map(x => [`Pinery (${x.name}) bitswap sender CPU per byte / raw-stream sender`,
      `${(median(x.bsCpu) / median(s.rawCpu)).toFixed(2)}×`, '≤ 1.5×']),
    ...senders.map(x => [`CAR (${x.name}) rate / disk read rate just before it, per run`,
      x.car.map((c, i) => `${(100 * c / (x.carDisk[i] as number)).toFixed(0)} %`).join(' / '), '≥ 70 %'])
  ]) + '\n')
  // Where the sender's CPU goes, by thread: the raw sender's next to each Pinery's (medians, CPU-s/GiB).
  const threadSets = [rawThreads, ...senders.map(x => x.bsThreads)]
  const names = [...new Set(threadSets.flatMap(m => [...m.keys()]))].sort()
    .filter(name => threadSets.some(m => median(m.get(name) ?? [0]) >= 0.005))
  if (names.length > 0) {
    process.stdout.write('\n' + table(['thread', 'raw sender', ...senders.map(x => `Pinery (${x.name})`)],
      names.map(name => [name, ...threadSets.map(m => m.has(name) ? median(m.get(name) ?? []).toFixed(2) : '-')])) +
      '\n')
  }
} finally {
  origin.child.kill('SIGTERM')
  for (const sender of senders) {
    await sender.server.stop()
    await rm(sender.dataDir, { recursive: true, force: true })
  }
}
