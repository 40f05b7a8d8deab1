/**
 * Many short-lived peers, each a fresh peer ID, connecting to Pinery with identify (announcing
 * `--protocols` made-up protocols and a few listen addresses) and leaving again: does the node's
 * datastore (the libp2p peer store is kept in it) grow with every stranger?
 *   node --import tsx scripts/hostile/peer-churn.ts --addr MA --peers N --protocols P --parallel K
 */
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const { values } = parseArgs({
  options: {
    addr: { type: 'string' }, peers: { type: 'string', default: '1000' },
    protocols: { type: 'string', default: '100' }, parallel: { type: 'string', default: '20' }
  }
})
const addr = multiaddr(values.addr as string)
const total = Number(values.peers)
let done = 0
let failed = 0
const started = Date.now()
async function one (): Promise<void> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  for (let i = 0; i < Number(values.protocols); i++) {
    await node.handle(`/made-up/${'x'.repeat(40)}/${i}`, () => {})
  }
  try {
    await node.dial(addr)
    await new Promise(resolve => setTimeout(resolve, 300))
  } catch { failed++ }
  await node.stop()
  done++
}
async function worker (): Promise<void> {
  while (done + Number(values.parallel) <= total + Number(values.parallel) - 1 && started > 0) {
    if (done >= total) return
    await one()
  }
}
const workers = Array.from({ length: Number(values.parallel) }, async () => {
  while (done < total) await one()
})
await Promise.all(workers)
void worker
console.log(JSON.stringify({ peers: done, failed, seconds: (Date.now() - started) / 1000 }))
process.exit(0)
