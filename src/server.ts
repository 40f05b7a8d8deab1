#!/usr/bin/env node
/**
 * Entry point of the service (`node dist/server.js`). It imports nothing
 * heavy itself: Helia and libp2p crash at import on Node < 22, so the version
 * is checked first and the service loaded only then.
 */
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`pinery: Node.js >= 22 is required, this is ${process.version}. ` +
    'Use "npm start", which runs the Node 24 that npm installs with the project.\n')
  process.exit(1)
}
// GC of a process that receives blocks fast (issue 14). By default V8 starts a full mark of the
// whole heap every time ArrayBuffer memory (received messages and blocks, dead within moments)
// grows by a small fixed amount: 17–19 mark-compacts per 256 MiB pin (--trace-gc), V8's GC threads
// using as much CPU as the main thread. The first flag counts that memory in the heap's global
// limit instead; the second fixes the heap's growth between GCs at 2× (V8 lets it reach 4×), which
// bounds the extra memory. bench:transfer 1 GiB, same runs: Pinery 13.2 → 9.8 CPU-s/GiB, GC
// threads 5.8 → 2.3 CPU-s per pin, peak RSS 373 → 465 MiB (555 with the first flag alone); see
// scripts/bench/RESULTS.md. Node 24's V8 13 has both; older ones would print an error for them.
if (Number(process.versions.v8.split('.')[0]) >= 13) {
  (await import('node:v8')).setFlagsFromString('--external-memory-accounted-in-global-limit --heap-growing-percent=100')
}
await import('./service-process.js')
export {}
