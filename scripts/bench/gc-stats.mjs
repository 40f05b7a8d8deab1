// A preload for the service in bench:events (`node --import gc-stats.mjs dist/server.js`, through
// PINERY_NODE_FLAGS): counts V8's collections with v8.GCProfiler and, on SIGUSR2, writes one line to stderr,
// `gc-stats {"young":{"n","ms"},"old":{"n","ms"},"promotedMB"}`, the totals since the process started.
// Young collections are scavenges (and minor mark-sweeps); "old" is every other pause (mark-compact,
// incremental marking steps, weak callbacks). Promoted: what the old spaces (old, code, large object…)
// grew by across young collections, i.e. what survived the young generation and moved out of it. Objects
// that die young cost a scavenge nearly nothing; ones that survive are copied, twice, then promoted: the
// promoted bytes say how much notification garbage outlived the young generation.
//
// It also reports the event loop since the last SIGUSR2 (`loop`): its delay p50 / p99 / max in ms
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and its utilization (busy share of the wall time), so a
// run can say whether pins waited on long turns.
import { GCProfiler } from 'node:v8'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

const totals = { young: { n: 0, ms: 0 }, old: { n: 0, ms: 0 }, promotedMB: 0, oldAllocMB: 0 }
/** The old spaces' use after the last collection seen. */
let lastAfter
let profiler = new GCProfiler()
profiler.start()

const used = (spaces) => {
  let sum = 0
  for (const s of spaces) if (!s.spaceName.startsWith('new_')) sum += s.spaceUsedSize
  return sum
}

function take () {
  const { statistics } = profiler.stop()
  profiler = new GCProfiler()
  profiler.start()
  for (const s of statistics) {
    const young = s.gcType === 'Scavenge' || s.gcType === 'MinorMarkSweep'
    const bucket = young ? totals.young : totals.old
    bucket.n++
    bucket.ms += s.cost / 1000
    const before = used(s.beforeGC.heapSpaceStatistics)
    const after = used(s.afterGC.heapSpaceStatistics)
    if (young) totals.promotedMB += (after - before) / 2 ** 20
    if (lastAfter != null) totals.oldAllocMB += (before - lastAfter) / 2 ** 20
    lastAfter = after
  }
}

// Only with BENCH_LOOP_STATS=1 (bench:events `--loop 1`): the 1 ms timer is a wake-up of its own.
const delay = monitorEventLoopDelay({ resolution: 1 })
if (process.env.BENCH_LOOP_STATS === '1') delay.enable()
let elu = performance.eventLoopUtilization()

process.on('SIGUSR2', () => {
  take()
  const ms = (ns) => Math.round(ns / 1e4) / 100
  const used = performance.eventLoopUtilization(elu)
  elu = performance.eventLoopUtilization()
  const loop = process.env.BENCH_LOOP_STATS !== '1'
    ? undefined
    : { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), elu: used.utilization }
  delay.reset()
  process.stderr.write(`gc-stats ${JSON.stringify({ ...totals, loop })}\n`)
})
