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
await import('./service-process.js')
export {}
