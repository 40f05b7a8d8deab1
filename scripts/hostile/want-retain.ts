/**
 * One peer that never reads makes each want Pinery keeps for it hold the whole message it came in: it first
 * fills its inbound window with DONT_HAVE answers (waves of want-have entries for absent blocks, ~7,000: the
 * 256 KiB window holds ~6,200), so Pinery's sender for it waits; then it sends `--messages` wantlists of
 * one want each, padded to ~4 MiB with a field Wantlist does not have (skipped by any decoder). Prints
 * Pinery's RSS (from /proc) every second.
 *   node --import tsx scripts/hostile/want-retain.ts --addr MA --pid PID --messages 300
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES, frame } from '../../src/node/lean-bitswap/wire.js'
import { paddedWantlist, randomWant } from './crafted.js'

const { values } = parseArgs({
  options: { addr: { type: 'string' }, pid: { type: 'string' }, messages: { type: 'string', default: '300' } }
})
const pid = Number(values.pid)
const rss = (): number =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024)
const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
await node.handle(BITSWAP_PROTOCOL, (stream) => { stream.pause() }, { maxInboundStreams: 1024 })
const stream = await node.dialProtocol(multiaddr(values.addr as string), BITSWAP_PROTOCOL)
const t0 = Date.now()
const log = (what: string): void => {
  console.log(JSON.stringify({ t: (Date.now() - t0) / 1000, rssMiB: rss(), what }))
}
log('start')
for (let i = 0; i < 14; i++) {
  for (const part of frame({ wantlist: { entries: Array.from({ length: 500 }, randomWant) } })) stream.send(part)
  await new Promise(resolve => setTimeout(resolve, 300))
}
log('window filled')
for (let i = 0; i < Number(values.messages); i++) {
  const parts = paddedWantlist([randomWant()], MAX_MESSAGE_BYTES - 1024)
  for (const part of parts) if (!stream.send(part)) await stream.onDrain()
  // send() only buffers: let it go out.
  while (stream.writeBufferLength > 8 * 1024 * 1024 && stream.status === 'open') {
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  if (i % 50 === 49) log(`${i + 1} padded messages, ${stream.status}, ${stream.writeBufferLength}`)
}
for (let s = 0; s < 10; s++) { await new Promise(resolve => setTimeout(resolve, 1000)); log('after') }
await node.stop()
await new Promise(resolve => setTimeout(resolve, 3000))
log('peer gone')
process.exit(0)
