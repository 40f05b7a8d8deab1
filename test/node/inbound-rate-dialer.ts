/**
 * Run by inbound-rate.test.ts inside a network namespace of its own whose loopback holds IPv6 addresses of
 * several /64s: a real Pinery node listens on one; stock js-libp2p peers bound to the others reconnect at once.
 * Prints how many connections each source group opened, as JSON. Args: the threshold, addresses per /64.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLibp2p } from 'libp2p'
import { createLogger } from '../../src/logger.js'
import { createPineryNode } from '../../src/node/index.js'

const [threshold = 5, perGroup = 20, dials = 10] = process.argv.slice(2).map(Number)
const pinery = await createPineryNode({
  listen: [multiaddr('/ip6/fd15:1::1/tcp/0'), multiaddr('/ip4/127.0.0.1/tcp/0')],
  announce: [],
  bitswapImplementation: 'lean',
  inboundConnectionThreshold: threshold
}, {
  blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger: createLogger({ level: 'silent' })
})
const targets = pinery.delegates().map(a => multiaddr(a))
// Connections Pinery opened, by remote IP (a dialer's concurrent dials of one peer may share one connection).
const opened = new Map<string, number>()
pinery.libp2p.addEventListener('connection:open', (evt) => {
  const ip = evt.detail.remoteAddr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value ?? ''
  opened.set(ip, (opened.get(ip) ?? 0) + 1)
})

/** `dials` connections from each address at once; how many Pinery opened. */
async function from (addresses: string[]): Promise<number> {
  const peers = await Promise.all(addresses.map(async (localAddress) => await createLibp2p({
    transports: [tcp({ dialOpts: { localAddress } as object })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })))
  // Each peer's dials one after another (a peer's concurrent dials to one address become one), the peers at once.
  await Promise.all(peers.map(async (peer, i) => {
    const v4 = addresses[i]?.includes(':') === false
    const target = targets.find(t => t.toString().startsWith(v4 ? '/ip4/' : '/ip6/'))
    for (let n = 0; n < dials && target != null; n++) {
      try { await peer.dial(target, { force: true, signal: AbortSignal.timeout(10_000) }) } catch {}
    }
  }))
  await Promise.all(peers.map(async peer => { await peer.stop() }))
  return addresses.reduce((n, a) => n + (opened.get(a) ?? 0), 0)
}

const sameGroup = Array.from({ length: perGroup }, (_, i) => `fd15:2::${(i + 1).toString(16)}`)
const t0 = performance.now()
const sameV6Group = await from(sameGroup)
const result = {
  attempts: perGroup * dials,
  sameV6Group,
  seconds: (performance.now() - t0) / 1000,
  // Right after: another /64, and IPv4 addresses each counted alone.
  otherV6Group: await from(['fd15:3::1']),
  v4: await from(['127.0.0.2', '127.0.0.3'])
}
console.log(JSON.stringify(result))
await pinery.stop()
process.exit(0)
