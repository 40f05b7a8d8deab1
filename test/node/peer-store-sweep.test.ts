/**
 * The node forgets peers that left (peer-store-sweep.ts). libp2p kept a record of every peer that ever
 * connected, with what identify reported, in the node's LevelDB datastore, for good: strangers with
 * fresh peer IDs grew it without bound (310 of them announcing 100 protocols each left 1.78 MB).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { openDatastore } from '../../src/node/storage.js'
import { until, waitFor } from '../fixtures/service.js'
import type { LevelDatastore } from 'datastore-level'

const logger = createLogger({ level: 'silent' })

/** Peer records in the datastore (libp2p keeps them under /peers/). */
async function peerRecords (datastore: LevelDatastore): Promise<number> {
  let n = 0
  for await (const key of datastore.queryKeys({ prefix: '/peers/' })) { if (key instanceof Key) n++ }
  return n
}

/** A stranger: a fresh peer ID that connects with identify, announcing made-up protocols, and leaves. */
async function stranger (addr: string): Promise<void> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  for (let i = 0; i < 20; i++) await node.handle(`/made-up/${i}`, () => {})
  const conn = await node.dial(multiaddr(addr))
  // Identify has run both ways once the node knows our protocols.
  await until(() => conn.status === 'open' ? true : undefined, 'the connection')
  await new Promise(resolve => setTimeout(resolve, 500))
  await node.stop()
}

describe('the peer store', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  async function start (dir: string): Promise<{ node: PineryNode, datastore: LevelDatastore }> {
    const datastore = await openDatastore(dir)
    const node = await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [] },
      { blockstore: new MemoryBlockstore(), datastore, logger })
    return { node, datastore }
  }

  it('keeps no record of peers that left, nor of those an earlier run kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pinery-peer-store-'))
    cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const { node, datastore } = await start(dir)
    let stopped = false
    cleanup.push(async () => { if (!stopped) { await node.stop(); await datastore.close() } })
    const addr = node.delegates()[0] as string
    const before = await peerRecords(datastore)
    for (let i = 0; i < 10; i++) await stranger(addr)
    // Each stranger is forgotten once gone (old code: 10 more records, for good).
    await waitFor(async () => await peerRecords(datastore) === before ? true : undefined, 15_000, 'records to go')
      .catch(() => {})
    expect(await peerRecords(datastore) - before).toBe(0)

    // Records an older version left (written here by a stranger whose record is kept: the node is stopped
    // before its disconnect timer fires) are removed at the next start.
    await stranger(addr)
    await node.stop()
    await datastore.close()
    stopped = true
    const raw = await openDatastore(dir)
    const left = await peerRecords(raw)
    await raw.close()
    expect(left).toBeGreaterThan(before)
    const again = await start(dir)
    cleanup.push(async () => { await again.node.stop(); await again.datastore.close() })
    await waitFor(async () => await peerRecords(again.datastore) <= before ? true : undefined, 15_000,
      'the sweep at start').catch(() => {})
    expect(await peerRecords(again.datastore)).toBeLessThanOrEqual(before)
  }, 90_000)
})
