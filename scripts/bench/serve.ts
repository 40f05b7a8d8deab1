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
 *   npm run bench:serve -- [--mib 256] [--runs 3] [--bitswap helia,lean]
 *
 * `--bitswap` runs one Pinery per bitswap (PINERY_BITSWAP), each pinning the DAG first; the bitswap
 * step runs against each in turn (the fetching peer is stock Helia for all), disk and CAR against the first.
 *
 * Reports medians of MiB/s and sender CPU-s/GiB, and the ratios the issue sets targets for.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess, type ServerProcess } from '../../test/fixtures/process.js'
import {
  serverEnv, cpuSeconds, curlBytes, listFiles, median, MiB, peakRss, readAll, runPeer, startPeer, table
} from './lib.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    bitswap: { type: 'string', default: 'lean' }
  }
})
const bitswaps = values.bitswap.split(',').map(b => b.trim()).filter(Boolean)
const n = Number(values.mib)
const runs = Number(values.runs)
const TOKEN = 'pinery_bench-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

const origin = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', String(n)])
/** One Pinery per bitswap; the first also serves the disk and CAR steps. */
const senders: Array<{ bitswap: string, dataDir: string, server: ServerProcess, bs: number[], bsCpu: number[] }> = []
for (const bitswap of bitswaps) {
  const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-serve-'))
  senders.push({
    bitswap,
    dataDir: dir,
    server: await startServerProcess({
      ...serverEnv(dir, TOKEN), PINERY_GATEWAY_AUTH: 'token', PINERY_BITSWAP: bitswap
    }),
    bs: [],
    bsCpu: []
  })
}
const { dataDir, server } = senders[0] as (typeof senders)[number]
const pid = server.child.pid as number
const originPid = origin.child.pid as number
const cid = origin.value.cid
const series = (): number[] => []
const s = {
  raw: series(), rawCpu: series(), disk: series(), car: series(), carCpu: series()
}
const perGiB = (bytes: number, cpu: number): number => cpu / (bytes / 1024 / MiB)
const rate = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000)
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
    let c0 = await cpuSeconds(originPid)
    const r = await runPeer<{ ms: number }>(['raw', '--addr', origin.value.addrs[0] as string, '--mib', String(n)])
    s.raw.push(rate(n * MiB, r.ms))
    s.rawCpu.push(perGiB(n * MiB, await cpuSeconds(originPid) - c0))

    for (const sender of senders) {
      const senderPid = sender.server.child.pid as number
      c0 = await cpuSeconds(senderPid)
      const b = await runPeer<{ ms: number, bytes: number }>(
        ['fetch', '--addr', sender.server.delegates[0] as string, '--cid', cid])
      sender.bs.push(rate(b.bytes, b.ms))
      sender.bsCpu.push(perGiB(b.bytes, await cpuSeconds(senderPid) - c0))
    }

    const files = await listFiles(join(dataDir, 'blocks'))
    let t0 = performance.now()
    const diskBytes = await readAll(files)
    s.disk.push(rate(diskBytes, performance.now() - t0))

    c0 = await cpuSeconds(pid)
    t0 = performance.now()
    const carBytes = await curlBytes(`${server.url}/ipfs/${cid}?format=car`, `Bearer ${TOKEN}`)
    const carMs = performance.now() - t0
    s.car.push(rate(carBytes, carMs))
    s.carCpu.push(perGiB(carBytes, await cpuSeconds(pid) - c0))
    const f = (x: number | undefined, d = 1): string => x?.toFixed(d) ?? '-'
    process.stderr.write(`run ${i + 1}: raw ${f(s.raw.at(-1))} MiB/s sender ${f(s.rawCpu.at(-1), 2)} CPU-s/GiB; ` +
      senders.map(x => `bitswap ${x.bitswap} ${f(x.bs.at(-1))} MiB/s Pinery ${f(x.bsCpu.at(-1), 2)} CPU-s/GiB; `)
        .join('') +
        `disk ${f(s.disk.at(-1), 0)} MiB/s (${f(diskBytes / MiB)} MiB); ` +
        `CAR ${f(s.car.at(-1))} MiB/s (${f(carBytes / MiB)} MiB) Pinery ${f(s.carCpu.at(-1), 2)} CPU-s/GiB\n`)
  }
  const rss = await peakRss(pid)
  const runsOf = (xs: number[]): string => xs.map(x => x.toFixed(1)).join(' / ')
  process.stdout.write(`\nbench:serve — ${n} MiB DAG, medians of ${runs} runs; ` +
    `Pinery peak RSS ${(rss / MiB).toFixed(0)} MiB\n\n`)
  process.stdout.write(table(['path', 'MiB/s (median)', 'runs', 'sender CPU-s/GiB (median)', 'runs'], [
    ['raw libp2p stream, Helia sender', median(s.raw).toFixed(1), runsOf(s.raw), median(s.rawCpu).toFixed(2),
      runsOf(s.rawCpu)],
    ...senders.map(x => [`bitswap, Pinery (${x.bitswap}) sender → Helia peer`, median(x.bs).toFixed(1), runsOf(x.bs),
      median(x.bsCpu).toFixed(2), runsOf(x.bsCpu)]),
    ['block files read from disk', median(s.disk).toFixed(1), runsOf(s.disk), '-', '-'],
    ['GET ?format=car from Pinery', median(s.car).toFixed(1), runsOf(s.car), median(s.carCpu).toFixed(2),
      runsOf(s.carCpu)]
  ]) + '\n\n')
  const perRun = s.car.map((c, i) => (100 * c / (s.disk[i] as number)).toFixed(0)).join(' / ')
  process.stdout.write(table(['ratio', 'measured', 'target'], [
    ...senders.map(x => [`Pinery (${x.bitswap}) bitswap sender CPU per byte / raw-stream sender`,
      `${(median(x.bsCpu) / median(s.rawCpu)).toFixed(2)}×`, '≤ 1.5×']),
    ['CAR rate / disk read rate', `${(100 * median(s.car) / median(s.disk)).toFixed(0)} %`, '≥ 70 %']
  ]) + '\n')
  process.stdout.write(`\nCAR rate / disk read rate per run (both on a warm page cache): ${perRun} %\n`)
} finally {
  origin.child.kill('SIGTERM')
  for (const sender of senders) {
    await sender.server.stop()
    await rm(sender.dataDir, { recursive: true, force: true })
  }
}
