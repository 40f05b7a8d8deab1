/**
 * One peer floods Pinery's bitswap with wantlist messages (`--entries` wants of random CIDs each,
 * `--kind want|cancel|have|full|churn|presence`), as fast as the stream takes them, for `--seconds`; a stream
 * that takes nothing for a second is replaced by a new one. Prints the MiB Pinery took, its CPU-s (from /proc)
 * in all and per GiB, its RSS, and the streams opened.
 *   node --import tsx scripts/hostile/want-flood.ts --addr MA --pid PID --entries 100000 --kind want
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create } from 'multiformats/hashes/digest'
import { BlockPresenceType, WantType } from '../../src/node/lean-bitswap/message.js'
import { BITSWAP_PROTOCOL, frame } from '../../src/node/lean-bitswap/wire.js'
import type { Stream } from '@libp2p/interface'

const { values } = parseArgs({
  options: {
    addr: { type: 'string' }, pid: { type: 'string' }, entries: { type: 'string', default: '100000' },
    kind: { type: 'string', default: 'want' }, seconds: { type: 'string', default: '20' },
    peers: { type: 'string', default: '1' }
  }
})
const pid = Number(values.pid)
function proc (): { rssMiB: number, cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  const rssMiB = Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024)
  return { rssMiB, cpuS: (Number(stat[11]) + Number(stat[12])) / 100 }
}
// --peers: that many peers (fresh peer IDs) from this one address, flooding at once.
const nodes = await Promise.all(Array.from({ length: Number(values.peers) }, async () => {
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  await node.handle(BITSWAP_PROTOCOL, (stream) => { stream.addEventListener('message', () => {}) })
  return node
}))
const n = Number(values.entries)
const cidsOf = (k: number): Uint8Array[] =>
  Array.from({ length: k }, () => CID.createV1(raw.code, create(0x12, randomBytes(32))).bytes)
// want, cancel, have, full: n entries of that kind; churn: n / 2 wants each cancelled by the next entry (every
// entry does work: a want kept, then dropped); presence: n block presences instead of a wantlist.
const messages = Array.from({ length: 4 }, () => frame(values.kind === 'presence'
  ? { blockPresences: cidsOf(n).map(cid => ({ cid, type: BlockPresenceType.DontHave })) }
  : {
      wantlist: {
        full: values.kind === 'full',
        entries: values.kind === 'churn'
          ? cidsOf(n / 2).flatMap(cid => [{ cid, priority: 1 }, { cid, priority: 1, cancel: true }])
          : cidsOf(n).map(cid => ({
              cid,
              priority: 1,
              cancel: values.kind === 'cancel',
              wantType: values.kind === 'have' ? WantType.Have : WantType.Block,
              sendDontHave: values.kind === 'have'
            }))
      }
    }))
const size = messages[0]?.reduce((a, b) => a + b.byteLength, 0) ?? 0
const target = multiaddr(values.addr as string)
const start = proc()
const t0 = Date.now()
const over = (): boolean => Date.now() - t0 >= Number(values.seconds) * 1000
let sent = 0
let unsent = 0
let streams = 0
let peak = start.rssMiB
// A persistent attacker: a stream that takes nothing for a second (paused by Pinery) or is reset is replaced by a
// new one, on a new connection when the old one was closed.
await Promise.all(nodes.map(async (node) => {
  while (!over()) {
    let stream: Stream
    try {
      stream = await node.dialProtocol(target, BITSWAP_PROTOCOL)
      streams++
    } catch {
      await new Promise(resolve => setTimeout(resolve, 50))
      continue
    }
    let moved = Date.now()
    let last = 0
    while (!over() && stream.status === 'open' && Date.now() - moved < 1000) {
      if (stream.writeBufferLength <= 8 * 1024 * 1024) {
        for (const part of messages[sent % 4] ?? []) stream.send(part)
        sent++
      }
      // Let it go out: send() only buffers until the event loop turns.
      await new Promise(resolve => setTimeout(resolve, stream.writeBufferLength > 8 * 1024 * 1024 ? 5 : 0))
      if (stream.writeBufferLength !== last) { moved = Date.now(); last = stream.writeBufferLength }
      peak = Math.max(peak, proc().rssMiB)
    }
    unsent += stream.writeBufferLength
    stream.abort(new Error('next stream'))
  }
}))
const end = proc()
const mib = (sent * size - unsent) / 1024 / 1024
console.log(JSON.stringify({
  kind: values.kind, entries: n, messageBytes: size, messages: sent, mib: +mib.toFixed(1),
  seconds: (Date.now() - t0) / 1000,
  pineryCpuS: +(end.cpuS - start.cpuS).toFixed(2), cpuSPerGiB: +((end.cpuS - start.cpuS) / mib * 1024).toFixed(1),
  rss: [start.rssMiB, peak, end.rssMiB], streams
}))
for (const node of nodes) void node.stop()
process.exit(0)
