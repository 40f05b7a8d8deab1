// A preload for the service in bench:events (`node --import gc-stats.mjs dist/server.js`, through
// PINERY_NODE_FLAGS): counts V8's collections with v8.GCProfiler and, on SIGUSR2, writes one line to stderr,
// `gc-stats {"young":{"n","ms"},"old":{"n","ms"},"promotedMB"}`, the totals since the process started.
// Young collections are scavenges (and minor mark-sweeps); "old" is every other pause (mark-compact,
// incremental marking steps, weak callbacks). Promoted: what the old spaces (old, code, large object…)
// grew by across young collections, i.e. what survived the young generation and moved out of it. Objects
// that die young cost a scavenge nearly nothing; ones that survive are copied, twice, then promoted: the
// promoted bytes say how much notification garbage outlived the young generation.
import { GCProfiler } from 'node:v8'

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

process.on('SIGUSR2', () => {
  take()
  process.stderr.write(`gc-stats ${JSON.stringify(totals)}\n`)
})
