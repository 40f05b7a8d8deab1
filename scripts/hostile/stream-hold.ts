/**
 * One stock js-libp2p peer opens raw yamux streams to Pinery (`--streams` at once, kept open; replaced when
 * Pinery resets one) and writes into them without reading what Pinery answers, for `--seconds`. Prints what
 * Pinery held (RSS start / peak / end from /proc), its CPU-s, the MiB sent and the streams opened.
 *   --mode hold: per stream, the multistream header and `ls` requests until Pinery's answers fill the 256 KiB
 *     window the peer never reopens (its stream paused), then `--fill` KiB more that Pinery's
 *     multistream-select reader keeps buffered while it waits to write (never negotiated: any protocol);
 *   --mode na: per stream, the header and then proposals of an unknown protocol, as fast as they go;
 *   --mode stall: the peer stops reading its socket, floods yamux pings until Pinery's answers fill the socket
 *     buffers (every write of the connection then waits), and opens streams that each send the multistream
 *     header and `--fill` KiB: multistream-select cannot write its echo, so it keeps what arrives;
 *   --mode reconnect: `--connections` loops that each dial, close and dial again (a reconnect flood); with
 *     `--sources N` loop i dials from 127.0.0.(2 + i % N), so that the flood comes from N address groups;
 *   --mode closed: one stream opened and reset, then data frames for its id (and a few other closed ids)
 *     as fast as the socket takes them (yamux decrypts, parses and drops them);
 *   --mode churn: `--streams` loops per connection that each open a stream, send the multistream header and
 *     bitswap's protocol id in one frame, and reset it at once, as fast as they can (round fifteen);
 *   --mode idle: `--streams` bitswap streams per connection, negotiated and then never written to, kept open.
 *   node --import tsx scripts/hostile/stream-hold.ts --addr MA --pid PID --mode hold --streams 200 --seconds 12
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { encodeLine } from '../../src/node/lazy-select.js'
import type { Connection, Stream, StreamMuxer } from '@libp2p/interface'

const { values } = parseArgs({
  options: {
    addr: { type: 'string' }, pid: { type: 'string' }, mode: { type: 'string', default: 'hold' },
    streams: { type: 'string', default: '200' }, seconds: { type: 'string', default: '12' },
    fill: { type: 'string', default: '3800' }, connections: { type: 'string', default: '1' },
    sources: { type: 'string', default: '0' }
  }
})
const pid = Number(values.pid)
function proc (): { rssMiB: number, cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return {
    rssMiB: Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024),
    cpuS: (Number(stat[11]) + Number(stat[12])) / 100
  }
}
// The sockets libp2p's TCP transport opens (it calls net.connect), so that `stall` can stop reading one.
const sockets: net.Socket[] = []
const connect = net.connect.bind(net) as (...args: unknown[]) => net.Socket
;(net as unknown as { connect: (...args: unknown[]) => net.Socket }).connect = (...args) => {
  const socket = connect(...args)
  sockets.push(socket)
  return socket
}
const target = multiaddr(values.addr as string)
const seconds = Number(values.seconds)
const start = proc()
const t0 = Date.now()
const over = (): boolean => Date.now() - t0 >= seconds * 1000
let sent = 0
let opened = 0
let connections = 0
let peak = start.rssMiB
const sampler = setInterval(() => { try { peak = Math.max(peak, proc().rssMiB) } catch {} }, 100)

const header = encodeLine('/multistream/1.0.0')
const ls = encodeLine('ls')
const unknown = encodeLine('/not-spoken/1.0.0')
const junk = new Uint8Array(64 * 1024).fill(0x41)

/** A raw stream of the connection's muxer: no negotiation, the peer writes what it likes. */
async function rawStream (conn: Connection): Promise<Stream> {
  const muxer = (conn as unknown as { muxer: StreamMuxer }).muxer
  const stream = await muxer.createStream()
  opened++
  return stream
}
const drain = async (stream: Stream): Promise<void> => {
  while (stream.status === 'open' && stream.writeBufferLength > 1024 * 1024) {
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
const send = (stream: Stream, data: Uint8Array): void => { stream.send(data); sent += data.byteLength }

async function hold (conn: Connection): Promise<void> {
  const stream = await rawStream(conn)
  send(stream, header)
  // Pinery answers each `ls` with its protocol list; ~2,000 of them fill the 256 KiB window.
  const batch = new Uint8Array(ls.byteLength * 500)
  for (let i = 0; i < 500; i++) batch.set(ls, i * ls.byteLength)
  await new Promise(resolve => setTimeout(resolve, 20))
  stream.pause()
  for (let i = 0; i < 6 && stream.status === 'open'; i++) { send(stream, batch); await drain(stream) }
  const fillKiB = Number(values.fill)
  for (let k = 0; k < fillKiB / 64 && stream.status === 'open'; k++) { send(stream, junk); await drain(stream) }
  while (!over() && stream.status === 'open') await new Promise(resolve => setTimeout(resolve, 50))
}

async function na (conn: Connection): Promise<void> {
  const stream = await rawStream(conn)
  send(stream, header)
  const batch = new Uint8Array(unknown.byteLength * 1000)
  for (let i = 0; i < 1000; i++) batch.set(unknown, i * unknown.byteLength)
  while (!over() && stream.status === 'open') {
    send(stream, batch)
    await drain(stream)
    await new Promise(setImmediate)
  }
}

type Frames = StreamMuxer & { sendFrame: (h: object, d?: unknown) => boolean, maConn: EventTarget }
const stalled = new WeakSet<Connection>()
async function stall (conn: Connection): Promise<void> {
  if (!stalled.has(conn)) {
    stalled.add(conn)
    sockets.at(-1)?.pause()
    const muxer = (conn as unknown as { muxer: Frames }).muxer
    for (let i = 0; i < 400_000; i++) {
      muxer.sendFrame({ type: 2, flag: 1, streamID: 0, length: i })
      if (i % 1000 === 0) await new Promise(setImmediate)
    }
    await new Promise(resolve => setTimeout(resolve, 1000))
    ready = true
  }
  // (Also while the connection lasts: a node that bounds pings closes it before the stall is made.)
  while (!ready && !over() && conn.status === 'open') await new Promise(resolve => setTimeout(resolve, 50))
  const stream = await rawStream(conn)
  send(stream, header)
  const fillKiB = Number(values.fill)
  for (let k = 0; k < fillKiB / 64 && stream.status === 'open'; k++) { send(stream, junk); await drain(stream) }
  while (!over() && stream.status === 'open') await new Promise(resolve => setTimeout(resolve, 50))
}
let ready = false

async function closed (conn: Connection): Promise<void> {
  const muxer = (conn as unknown as { muxer: Frames }).muxer
  const stream = await rawStream(conn)
  send(stream, header)
  await new Promise(resolve => setTimeout(resolve, 50))
  const id = (stream as unknown as { streamId: number }).streamId
  stream.abort(new Error('closed on purpose'))
  const { Uint8ArrayList } = await import('uint8arraylist')
  while (!over() && conn.status === 'open') {
    // Data frames (type 0, no flags) for the closed id: yamux checks no window for a stream it does not know.
    let more = true
    for (let i = 0; i < 16 && more; i++) {
      more = muxer.sendFrame({ type: 0, flag: 0, streamID: id, length: junk.byteLength }, new Uint8ArrayList(junk))
      sent += junk.byteLength
    }
    // Only as fast as the socket takes them: wait for the connection to drain.
    if (!more) {
      await new Promise(resolve => {
        muxer.maConn.addEventListener('drain', resolve, { once: true })
        setTimeout(resolve, 1000)
      })
    } else await new Promise(setImmediate)
  }
}

async function reconnect (conn: Connection): Promise<void> { await conn.close() }

const bitswap = new Uint8Array([...header, ...encodeLine('/ipfs/bitswap/1.2.0')])
async function churn (conn: Connection): Promise<void> {
  const stream = await rawStream(conn)
  send(stream, bitswap)
  await new Promise(setImmediate)
  stream.abort(new Error('reset on purpose'))
}

async function idle (conn: Connection): Promise<void> {
  const stream = await conn.newStream('/ipfs/bitswap/1.2.0', { negotiateFully: true, maxOutboundStreams: 100_000 })
  opened++
  while (!over() && stream.status === 'open') await new Promise(resolve => setTimeout(resolve, 50))
  if (stream.status === 'open') stream.abort(new Error('done'))
}
const mode = { hold, na, closed, stall, reconnect, churn, idle }[values.mode as 'hold' | 'na' | 'closed' | 'stall' |
  'reconnect' | 'churn' | 'idle']
const sources = Number(values.sources)
await Promise.all(Array.from({ length: Number(values.connections) }, async (_, i) => {
  const localAddress = sources > 0 ? `127.0.0.${2 + i % sources}` : undefined
  const node = await createLibp2p({
    transports: [tcp(localAddress != null ? { dialOpts: { localAddress } as object } : {})],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  while (!over()) {
    let conn: Connection
    try {
      conn = await node.dial(target)
      connections++
    } catch {
      await new Promise(resolve => setTimeout(resolve, 50))
      continue
    }
    const n = values.mode === 'closed' || values.mode === 'reconnect' ? 1 : Number(values.streams)
    await Promise.all(Array.from({ length: n }, async () => {
      while (!over() && conn.status === 'open') {
        try { await mode(conn) } catch { await new Promise(resolve => setTimeout(resolve, 20)) }
      }
    }))
  }
  void node.stop()
}))
clearInterval(sampler)
const end = proc()
console.log(JSON.stringify({
  mode: values.mode, streams: Number(values.streams), seconds: (Date.now() - t0) / 1000,
  mibSent: +(sent / 2 ** 20).toFixed(1),
  pineryCpuS: +(end.cpuS - start.cpuS).toFixed(2), rss: [start.rssMiB, peak, end.rssMiB], opened, connections
}))
process.exit(0)
