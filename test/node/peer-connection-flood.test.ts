/**
 * One peer dialling the real service again and again (libp2p accepts several connections from one peer, and
 * dialling needs no token) while its open-file limit is low: each connection is a descriptor, and 272 of
 * them took every one, so an upload failed (its socket or block files could not be opened) and /health with
 * it. The node's connection cap (PINERY_MAX_PEER_CONNECTIONS, at most a quarter of the open-file limit)
 * refuses dials past it and leaves the descriptors to the blockstore and LevelDB.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'

const TOKEN = 'pinery_peer-flood-test-admin'
const FILE_LIMIT = 300

let dataDir: string
let service: ServerProcess
let peer: Origin

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pinery-peer-flood-'))
  // Set explicitly: the limit is lowered only once the service runs, after it read it.
  service = await startServerProcess({
    ...serverEnv(dataDir, TOKEN), PINERY_MAX_HTTP_CONNECTIONS: '64', PINERY_MAX_PEER_CONNECTIONS: '64'
  })
  execFileSync('prlimit', ['--pid', String(service.child.pid), `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`])
  peer = await startOrigin()
})

afterAll(async () => {
  await peer?.stop()
  await service?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('a peer dialling the node over and over', () => {
  it('leaves the service the descriptors it needs to store and pin', async () => {
    const target = multiaddr(service.delegates[0] as string)
    let open = 0
    for (let i = 0; i < FILE_LIMIT + 50; i++) {
      // force: a new connection each time, though one to the peer is open already.
      await peer.node.libp2p.dial(target, { force: true }).then(() => { open++ }, () => {})
    }
    expect(open).toBeGreaterThan(0)
    const bytes = Buffer.alloc(3_000_000)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) & 255
    const res = await fetch(`${service.url}/content?name=during-flood`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: bytes
    })
    expect(res.status, await res.clone().text()).toBe(202)
    expect(await res.json()).toMatchObject({ status: 'pinned' })
    expect((await fetch(`${service.url}/health`)).status).toBe(200)
  }, 60_000)
})
