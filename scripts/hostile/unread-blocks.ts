/**
 * Attack on Pinery as a bitswap origin with large blocks: uploads a file of `--block-kib` leaves (as a CAR, so
 * that the service holds them; up to 2 MiB, the CAR limit), then `--peers` peers (each its own peer ID and
 * connection) want every leaf and never read what Pinery sends (`--mode pause`: their bitswap streams paused,
 * no yamux window update) or read a little at a time (`--mode slow`: resumed for 20 ms a second). Halfway, a
 * peer that reads fetches every leaf, timed. `--mode fair`: the peers pause, and before them a slow honest peer
 * from 127.0.0.2 (its own address group) wants every leaf and reads 20 ms a second throughout: what it got is
 * printed (parked.ts dropped the node's oldest message first, the slow peer's, until round fifteen). Prints
 * Pinery's RSS and CPU (from /proc) every second, then one JSON line for flood-compare.ts (its RSS: at the
 * start, the peak, the end, and 3 s after the peers left).
 *   node --import tsx scripts/hostile/unread-blocks.ts --addr MA --pid PID --url URL --token T [--peers 200]
 *        [--seconds 30] [--mode pause|slow|fair] [--block-kib 1024] [--mib 64]
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { CarWriter } from '@ipld/car'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import toBuffer from 'it-to-buffer'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { createLibp2p, type Libp2p } from 'libp2p'
import * as raw from 'multiformats/codecs/raw'
import { Message } from '../../src/node/lean-bitswap/message.js'
import { BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES, createMessageReader, frame } from '../../src/node/lean-bitswap/wire.js'
import type { CID } from 'multiformats/cid'
import type { Stream } from '@libp2p/interface'

const { values } = parseArgs({
  options: {
    addr: { type: 'string' }, pid: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' },
    peers: { type: 'string', default: '200' }, seconds: { type: 'string', default: '30' },
    mode: { type: 'string', default: 'pause' }, 'block-kib': { type: 'string', default: '1024' },
    mib: { type: 'string', default: '64' }
  }
})
const addr = multiaddr(values.addr as string)
const pid = Number(values.pid)

function proc (): { rssMiB: number, cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return { rssMiB: Math.round(rss), cpuS: (Number(stat[11]) + Number(stat[12])) / 100 }
}

// The content: a UnixFS file of large raw leaves, uploaded as a CAR.
const store = new MemoryBlockstore()
const leaves: CID[] = []
let root: CID | undefined
const chunkSize = Number(values['block-kib']) * 1024
for await (const entry of importer([{ content: randomBytes(Number(values.mib) * 1024 * 1024) }], store,
  { chunker: fixedSize({ chunkSize }), rawLeaves: true, cidVersion: 1 })) root = entry.cid
const { writer, out } = CarWriter.create([root as CID])
const car = toBuffer(out)
for await (const { cid, bytes } of store.getAll()) {
  await writer.put({ cid, bytes: await toBuffer(bytes) })
  if (cid.code === raw.code) leaves.push(cid)
}
await writer.close()
const posted = await fetch(`${values.url as string}/content`, {
  method: 'POST',
  headers: { authorization: `Bearer ${values.token as string}`, 'content-type': 'application/vnd.ipld.car' },
  body: await car
})
if (!posted.ok) throw new Error(`upload: ${posted.status} ${await posted.text()}`)
const wantAll = frame({ wantlist: { entries: leaves.map(cid => ({ cid: cid.bytes, priority: 1 })) } })

async function peer (onStream: (stream: Stream) => void, localAddress?: string): Promise<Libp2p> {
  const node = await createLibp2p({
    transports: [tcp(localAddress != null ? { dialOpts: { localAddress } as object } : {})],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 10 }
  })
  await node.handle(BITSWAP_PROTOCOL, onStream, { maxInboundStreams: 1024 })
  return node
}

const start = proc()
const rss = [start.rssMiB]
const t0 = Date.now()
const nodes: Libp2p[] = []
const slow: Stream[] = []
const timer = setInterval(() => {
  const p = proc()
  rss.push(p.rssMiB)
  console.error(JSON.stringify({ t: Math.round((Date.now() - t0) / 1000), ...p, peers: nodes.length }))
  for (const s of slow) {
    if (s.status !== 'open') continue
    s.resume()
    setTimeout(() => { if (s.status === 'open') s.pause() }, 20)
  }
}, 1000)

// --mode fair: the slow honest peer, first.
let slowGot = 0
let slowMs: number | undefined
function slowReader (stream: Stream): void {
  stream.pause()
  slow.push(stream)
  const read = createMessageReader(MAX_MESSAGE_BYTES, (bytes) => {
    slowGot += Message.decode(Uint8Array.from(bytes)).payload.length
    if (slowGot >= leaves.length && slowMs == null) slowMs = Date.now() - t0
  })
  stream.addEventListener('message', (evt) => {
    if (evt.data instanceof Uint8Array) read(evt.data)
    else for (const part of evt.data) read(part)
  })
}
const slowNode = values.mode === 'fair' ? await peer(slowReader, '127.0.0.2') : undefined
if (slowNode != null) {
  const s = await slowNode.dialProtocol(addr, BITSWAP_PROTOCOL)
  for (const part of wantAll) s.send(part)
  await new Promise(resolve => setTimeout(resolve, 500))
}

const attack = (async () => {
  for (let i = 0; i < Number(values.peers); i++) {
    try {
      const node = await peer((stream) => { stream.pause(); if (values.mode === 'slow') slow.push(stream) })
      nodes.push(node)
      const s = await node.dialProtocol(addr, BITSWAP_PROTOCOL)
      for (const part of wantAll) s.send(part)
    } catch (err) { console.error('peer', i, (err as Error).message) }
  }
})()

// Halfway: a peer that reads fetches every leaf.
await new Promise(resolve => setTimeout(resolve, Number(values.seconds) * 500))
let honestMs: number | undefined
let got = 0
const reader = await peer((stream) => {
  const read = createMessageReader(MAX_MESSAGE_BYTES, (bytes) => {
    got += Message.decode(Uint8Array.from(bytes)).payload.length
    if (got >= leaves.length && honestMs == null) honestMs = Math.round(performance.now() - h0)
  })
  stream.addEventListener('message', (evt) => {
    if (evt.data instanceof Uint8Array) read(evt.data)
    else for (const part of evt.data) read(part)
  })
})
const h0 = performance.now()
const hs = await reader.dialProtocol(addr, BITSWAP_PROTOCOL)
for (const part of wantAll) hs.send(part)
await new Promise(resolve => setTimeout(resolve, Number(values.seconds) * 500))
await attack
clearInterval(timer)
const end = proc()
await Promise.all([...nodes, reader, ...(slowNode != null ? [slowNode] : [])].map(async n => { await n.stop() }))
await new Promise(resolve => setTimeout(resolve, 3000))
const after = proc()
console.log(JSON.stringify({
  seconds: Number(values.seconds),
  pineryCpuS: +(end.cpuS - start.cpuS).toFixed(2),
  rss: [start.rssMiB, Math.max(...rss), end.rssMiB, after.rssMiB],
  streams: nodes.length,
  honest: `${got}/${leaves.length} in ${honestMs ?? '–'} ms` +
    (slowNode != null ? `; slow peer ${slowGot}/${leaves.length} in ${slowMs ?? '–'} ms` : '')
}))
process.exit(0)
