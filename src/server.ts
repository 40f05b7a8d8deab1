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
// libuv's thread pool carries every block file's open, write, rename and fsync and every LevelDB
// read and write; its default four threads queue them behind one another's fsyncs. Set before
// anything uses the pool (it starts on first use); an operator's own setting wins.
process.env.UV_THREADPOOL_SIZE ??= '16'
// GC settings (why and what they cost: v8-flags.ts), set before the service allocates anything.
const { setFlagsFromString } = await import('node:v8')
const { defaultV8Flags } = await import('./v8-flags.js')
for (const flag of defaultV8Flags(process.execArgv, major)) setFlagsFromString(flag)
await import('./service-process.js')
export {}
