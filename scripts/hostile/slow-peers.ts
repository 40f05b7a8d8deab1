/**
 * Attack on Pinery as a bitswap origin: N peers (each its own peer ID and connection) want every leaf
 * of a DAG Pinery holds, and never read what Pinery sends (their inbound bitswap streams are paused:
 * no yamux window update). Prints Pinery's RSS and CPU (from /proc) every second.
 *   node --import tsx scripts/hostile/slow-peers.ts --addr MA --pid PID --cids FILE --peers N --seconds S
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { BITSWAP_PROTOCOL, frame } from '../../src/node/lean-bitswap/wire.js'

const { values } = parseArgs({
  options: {
    addr: { type: 'string' }, pid: { type: 'string' }, cids: { type: 'string' },
    peers: { type: 'string', default: '100' }, seconds: { type: 'string', default: '40' },
    mode: { type: 'string', default: 'pause' }
  }
})
const addr = multiaddr(values.addr as string)
const pid = Number(values.pid)
const cids = readFileSync(values.cids as string, 'utf8').trim().split('\n').map(s => CID.parse(s))

function proc (): { rssMiB: number, cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  const cpuS = (Number(stat[11]) + Number(stat[12])) / 100
  return { rssMiB: Math.round(rss), cpuS }
}

const nodes: Libp2p[] = []
const start = proc()
console.log(JSON.stringify({ t: 0, ...start, peers: 0 }))
const t0 = Date.now()
const timer = setInterval(() => {
  const p = proc()
  const t = Math.round((Date.now() - t0) / 1000)
  console.log(JSON.stringify({ t, ...p, cpu: +(p.cpuS - start.cpuS).toFixed(1), peers: nodes.length }))
}, 1000)

const n = Number(values.peers)
for (let i = 0; i < n; i++) {
  const node = await createLibp2p({
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionManager: { maxConnections: 10 }
  })
  await node.handle(BITSWAP_PROTOCOL, (stream) => {
    if (values.mode === 'pause') stream.pause()
  }, { maxInboundStreams: 1024 })
  nodes.push(node)
  try {
    const s = await node.dialProtocol(addr, BITSWAP_PROTOCOL)
    const wants = frame({ wantlist: { entries: cids.map(c => ({ cid: c.bytes, priority: 1 })) } })
    if (values.mode !== 'idle') for (const part of wants) s.send(part)
  } catch (err) { console.error('peer', i, (err as Error).message) }
}
await new Promise(resolve => setTimeout(resolve, Number(values.seconds) * 1000))
clearInterval(timer)
await Promise.all(nodes.map(async n => { await n.stop() }))
await new Promise(resolve => setTimeout(resolve, 5000))
console.log(JSON.stringify({ after: true, ...proc() }))
process.exit(0)
