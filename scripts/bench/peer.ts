/**
 * A benchmark peer in its own process. Roles:
 *   origin --mib N        holds an N MiB UnixFS file (256 KiB chunks, raw leaves, CIDv1) and
 *                         serves the raw-stream protocol; prints {cid, addrs} when ready
 *   raw --addr A --mib N  reads N MiB over one libp2p stream from A; prints {ms, cpuS, threads} (its own
 *                         CPU, and CPU-s by thread name as receiver-ab.ts splits Pinery's) and its phases
 *                         {connectedMs, streamMs, firstByteMs} (ms from the dial, as `ms`)
 *   origin-many --count N holds N single-block DAGs (bench:many); prints {addrs}
 *   fetch --addr A --cid C  a Helia peer that walks the DAG C from A over bitswap, 256 blocks in
 *                         flight (Pinery's own walker), keeping nothing; prints {ms, bytes, blocks}
 *   stock --addr A --cid C  stock Helia (default bitswap settings) runs pins.add(C) from A
 *                         into a blockstore-fs; prints {ms, peakRssBytes}
 * All use the transport stack of Pinery itself (TCP + Noise + Yamux). `--bitswap lean|helia` picks the
 * bitswap of origin, origin-many and fetch (default helia: stock @helia/bitswap).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { FsBlockstore } from 'blockstore-fs'
import { MemoryDatastore } from 'datastore-core/memory'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import drain from 'it-drain'
import { CID } from 'multiformats/cid'
import * as rawCodec from 'multiformats/codecs/raw'
import { createLogger } from '../../src/logger.js'
import { createPineryNode } from '../../src/node/index.js'
import { walkDag } from '../../src/pins/dag-walk.js'
import { RAW_PROTOCOL, manyBlock, peakRss, threadCpu } from './lib.js'
import type { BlockCodec } from 'multiformats/codecs/interface'

const MiB = 1024 * 1024
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string' },
    mib: { type: 'string' },
    addr: { type: 'string' },
    cid: { type: 'string' },
    bitswap: { type: 'string', default: 'helia' }
  }
})
if (values.bitswap !== 'helia' && values.bitswap !== 'lean') throw new Error('--bitswap: expected helia or lean')
const bitswapImplementation = values.bitswap
const logger = createLogger({ level: 'silent' })
const listen = [multiaddr('/ip4/127.0.0.1/tcp/0')]
const print = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value)}\n`) }

async function * randomStream (mib: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < mib; i++) yield randomBytes(MiB)
}

async function origin (mib: number): Promise<void> {
  const blockstore = new MemoryBlockstore()
  const node = await createPineryNode({ listen, announce: [], bitswapImplementation },
    { blockstore, datastore: new MemoryDatastore(), logger })
  const cid = await unixfs(node.helia).addByteStream(randomStream(mib),
    { chunker: fixedSize({ chunkSize: 256 * 1024 }), rawLeaves: true, cidVersion: 1 })
  const chunk = randomBytes(256 * 1024)
  await node.libp2p.handle(RAW_PROTOCOL, async (stream) => {
    for (let sent = 0; sent < mib * MiB; sent += chunk.byteLength) {
      if (!stream.send(chunk)) await stream.onDrain()
    }
    await stream.close()
  }, { maxInboundStreams: 16 })
  print({ cid: cid.toString(), addrs: node.delegates() })
  process.on('SIGTERM', () => { void node.stop().then(() => process.exit(0)) })
}

async function originMany (count: number): Promise<void> {
  const blockstore = new MemoryBlockstore()
  for (let i = 0; i < count; i++) {
    const { cid, bytes } = await manyBlock(i)
    await blockstore.put(cid, bytes)
  }
  const node = await createPineryNode({ listen, announce: [], bitswapImplementation },
    { blockstore, datastore: new MemoryDatastore(), logger })
  print({ addrs: node.delegates() })
  process.on('SIGTERM', () => { void node.stop().then(() => process.exit(0)) })
}

async function raw (addr: string, mib: number): Promise<void> {
  const node = await createPineryNode({ listen, announce: [] },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
  const [threads0, cpu0, started] = [await threadCpu(), process.cpuUsage(), performance.now()]
  const since = (): number => performance.now() - started
  const connection = await node.libp2p.dial(multiaddr(addr))
  const connectedMs = since()
  const stream = await connection.newStream(RAW_PROTOCOL)
  const streamMs = since()
  let bytes = 0
  let firstByteMs = 0
  for await (const chunk of stream) {
    if (bytes === 0) firstByteMs = since()
    bytes += chunk.byteLength
  }
  const ms = since()
  const cpu = process.cpuUsage(cpu0)
  const threads = Object.fromEntries([...await threadCpu()].map(([k, v]) => [k, v - (threads0.get(k) ?? 0)]))
  if (bytes !== mib * MiB) throw new Error(`read ${bytes} bytes, expected ${mib * MiB}`)
  print({ ms, cpuS: (cpu.user + cpu.system) / 1e6, threads, connectedMs, streamMs, firstByteMs })
  await node.stop()
}

async function fetchDag (addr: string, cid: string): Promise<void> {
  // Blocks are verified by bitswap and dropped: only the sender's cost is of interest (bench:serve).
  const node = await createPineryNode({ listen, announce: [], bitswapImplementation },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
  const started = performance.now()
  await node.libp2p.dial(multiaddr(addr))
  const codecs = new Map<number, BlockCodec<number, unknown>>([[dagPb.code, dagPb], [rawCodec.code, rawCodec]])
  const result = await walkDag(CID.parse(cid), {
    getBlock: async (c, options) => await node.want(c, options),
    getCodec: async (code) => codecs.get(code) as BlockCodec<number, unknown>
  }, { concurrency: 256, rewantAfterMs: 2000 })
  print({ ms: performance.now() - started, bytes: result.bytes, blocks: result.blocks.length })
  await node.stop()
}

/**
 * Stock pins.add into a new blockstore-fs dir, which is left for the bench to remove when it exits
 * (its path is in the answer): removing its files right away made the next runs' file creation
 * pay for them in ext4's inode allocator (scripts/bench/pinery-run.ts, keepUntilExit).
 */
async function stock (addr: string, cid: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-stock-'))
  const blockstore = new FsBlockstore(join(dir, 'blocks'))
  await blockstore.open()
  try {
    const node = await createPineryNode({ listen, announce: [], bitswap: {} },
      { blockstore, datastore: new MemoryDatastore(), logger })
    const started = performance.now()
    await node.libp2p.dial(multiaddr(addr))
    await drain(node.helia.pins.add(CID.parse(cid)))
    print({ ms: performance.now() - started, peakRssBytes: await peakRss(), dir })
    await node.stop()
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

const role = positionals[0]
if (role === 'origin') await origin(Number(values.mib))
else if (role === 'origin-many') await originMany(Number(values.count))
else if (role === 'raw') await raw(values.addr as string, Number(values.mib))
else if (role === 'fetch') await fetchDag(values.addr as string, values.cid as string)
else if (role === 'stock') await stock(values.addr as string, values.cid as string)
else throw new Error(`unknown role ${role ?? ''}`)
