/**
 * Where the round trips of one fetch go: a receiver node in this process (Pinery's walker, 256
 * wants in flight, blocks kept in memory) fetches an origin peer's DAG through the delaying proxy,
 * and the time from the dial to the connection, the root block, the first leaf and the last block
 * is taken, for each bitswap pair and RTT, interleaved; medians of the runs, and the 100 ms row's
 * extra time in round trips.
 *
 *   node --import tsx scripts/bench/rtt-probe.ts [--mib 64] [--runs 3] [--rtt 100]
 *     [--pairs helia:helia,lean:lean,lean:helia]          (receiver:origin)
 */
import { parseArgs } from 'node:util'
import * as dagPb from '@ipld/dag-pb'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import * as rawCodec from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type BitswapImplementation } from '../../src/node/index.js'
import { walkDag } from '../../src/pins/dag-walk.js'
import { startDelayProxy, viaProxy } from './delay-proxy.js'
import { median, startPeer, table } from './lib.js'
import type { BlockCodec } from 'multiformats/codecs/interface'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    rtt: { type: 'string', default: '100' },
    pairs: { type: 'string', default: 'helia:helia,lean:lean,lean:helia' }
  }
})
const rtts = [0, ...values.rtt.split(',').map(Number)]
const pairs = values.pairs.split(',').map(p => p.split(':') as [BitswapImplementation, BitswapImplementation])
const codecs = new Map<number, BlockCodec<number, unknown>>([[dagPb.code, dagPb], [rawCodec.code, rawCodec]])
const logger = createLogger({ level: 'silent' })

interface Times { connected: number, root: number, firstLeaf: number, last: number }

async function probe (receiver: BitswapImplementation, originAddr: string, cid: string, rtt: number): Promise<Times> {
  const port = Number(/\/tcp\/(\d+)/.exec(originAddr)?.[1])
  const proxy = await startDelayProxy(port, rtt)
  const listen = [multiaddr('/ip4/127.0.0.1/tcp/0')]
  const node = await createPineryNode({ listen, announce: [], bitswapImplementation: receiver },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
  try {
    const root = CID.parse(cid)
    const t0 = performance.now()
    await node.libp2p.dial(multiaddr(viaProxy(originAddr, proxy.port)))
    const times: Times = { connected: performance.now() - t0, root: 0, firstLeaf: 0, last: 0 }
    await walkDag(root, {
      getBlock: async (c, options) => {
        const bytes = await node.want(c, options)
        const t = performance.now() - t0
        if (c.equals(root)) times.root = t
        else if (times.firstLeaf === 0) times.firstLeaf = t
        times.last = Math.max(times.last, t)
        return bytes
      },
      getCodec: async (code) => codecs.get(code) as BlockCodec<number, unknown>
    }, { concurrency: 256, rewantAfterMs: 2000 })
    return times
  } finally {
    await node.stop()
    await proxy.close()
  }
}

const origins = new Map<string, { cid: string, addr: string, kill: () => void }>()
for (const b of new Set(pairs.map(p => p[1]))) {
  const o = await startPeer<{ cid: string, addrs: string[] }>(['origin', '--mib', values.mib, '--bitswap', b])
  origins.set(b, { cid: o.value.cid, addr: o.value.addrs[0] as string, kill: () => o.child.kill('SIGTERM') })
}
const results = new Map<string, Times[]>()
try {
  for (let i = 0; i < Number(values.runs); i++) {
    for (const rtt of rtts) {
      for (const [r, o] of pairs) {
        const origin = origins.get(o) as { cid: string, addr: string }
        const t = await probe(r, origin.addr, origin.cid, rtt)
        const key = `${r}:${o}:${rtt}`
        results.set(key, [...(results.get(key) ?? []), t])
        process.stderr.write(`run ${i + 1} ${r} ← ${o} ${rtt} ms: ${JSON.stringify(Object.fromEntries(
          Object.entries(t).map(([k, v]) => [k, Math.round(v)])))}\n`)
      }
    }
  }
} finally {
  for (const o of origins.values()) o.kill()
}
const rows: Array<Array<string | number>> = []
for (const [r, o] of pairs) {
  const base = results.get(`${r}:${o}:0`) ?? []
  for (const rtt of rtts) {
    const ts = results.get(`${r}:${o}:${rtt}`) ?? []
    const m = (k: keyof Times): number => median(ts.map(t => t[k]))
    const extra = rtt === 0 ? '-' : ((m('last') - median(base.map(t => t.last))) / rtt).toFixed(1)
    rows.push([`${r} ← ${o}`, `${rtt} ms`, m('connected').toFixed(0), m('root').toFixed(0), m('firstLeaf').toFixed(0),
      m('last').toFixed(0), ts.map(t => t.last.toFixed(0)).join(' / '), extra,
      (Number(values.mib) / (m('last') / 1000)).toFixed(1)])
  }
}
process.stdout.write(`\nrtt-probe — ${values.mib} MiB, medians of ${values.runs} runs (ms from the dial)\n\n` +
  table(['receiver ← origin', 'RTT', 'connected', 'root', 'first leaf', 'last block', 'runs', 'extra RTTs vs 0 ms',
    'MiB/s'], rows) + '\n')
process.exit(0)
