/**
 * What one hostile client can make a running service do with a small request: each case here
 * once cost memory, CPU or time far beyond the bytes the attacker sent, and is now refused with
 * a 4xx Failure (or cut short) at a bound.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { carOf, failureOf, postContent, storedOf } from '../fixtures/content.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

/** An empty raw block, carried in its CID: a leaf that costs no read and no byte. */
const EMPTY = CID.createV1(raw.code, identity.digest(new Uint8Array(0)))

/** A UnixFS file node linking `links` with the block sizes given (true or not). */
async function fileNode (links: CID[], sizes: number[]): Promise<{ cid: CID, bytes: Uint8Array }> {
  const Data = new UnixFS({ type: 'file', blockSizes: sizes.map(BigInt) }).marshal()
  const bytes = dagPb.encode(dagPb.prepare({ Data, Links: links.map(Hash => ({ Hash })) }))
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes }
}

type Service = Pick<TestService, 'request'>

/** Pins a DAG of `blocks` (the first is the root) through a CAR upload; returns the root. */
async function pinned (svc: Service, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<CID> {
  const root = (blocks[0] as { cid: CID }).cid
  const res = await postContent(svc as TestService, await carOf([root], blocks), { type: 'application/vnd.ipld.car' })
  expect(res.status, await res.text()).toBe(202)
  return root
}

/** A file of `n` nodes each claiming `n` one-byte children that are empty: its size is a lie. */
async function lyingFile (svc: Service, n: number): Promise<CID> {
  const inner = await fileNode(Array(n).fill(EMPTY), Array(n).fill(1))
  const root = await fileNode(Array(n).fill(inner.cid), Array(n).fill(1))
  return await pinned(svc, [root, inner])
}

describe('attacks', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({
      users: ['alice'],
      env: { PINERY_GC_INTERVAL_MS: '3600000', PINERY_MAX_UPLOAD_BLOCKS: '1000' }
    })
  })
  afterAll(async () => { await svc.destroy() })

  it('a form whose deep paths imply too many directories is refused with 400 (was ~1 MB of memory per 4 KB part)',
    async () => {
      // Each part names 255 directories of its own: a 4 KB header that once cost ~1 MB in the path registry
      // and ~0.7 MB in the importer (a 4 MB form: 1.5 GB RSS, 42 s).
      const boundary = 'deep-paths'
      const parts = 80 // 20,400 directories
      let body = ''
      for (let i = 0; i < parts; i++) {
        const name = `p${i}${'a'.repeat(3500)}${'/b'.repeat(255)}`
        body += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\nz\r\n`
      }
      body += `--${boundary}--\r\n`
      const res = await svc.request('/content', {
        method: 'POST', user: 'alice', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }
      })
      expect(await failureOf(res)).toMatchObject({
        status: 400, details: expect.stringContaining('more than 20000 directories')
      })
    })

  it('an upload of more blocks than allowed is refused with 413 and keeps none (each block held ~1.8 KB)', async () => {
    // Blocks no root reaches cost no quota in the end, so nothing else bounded how many a CAR could hold.
    const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
    for (let i = 0; i < 1001; i++) {
      const bytes = Uint8Array.from([i & 255, i >> 8, 7])
      blocks.push({ cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes })
    }
    const car = await carOf([(blocks[0] as { cid: CID }).cid], blocks)
    const res = await postContent(svc, car, { type: 'application/vnd.ipld.car' })
    expect(await failureOf(res))
      .toMatchObject({ status: 413, details: expect.stringContaining('more than 1000 blocks') })
    expect(await storedOf(svc, blocks.slice(0, 50).map(b => b.cid))).toEqual([])
  })

  it('one user owns at most 20 webhooks: each event is POSTed once per webhook (was: any number)', async () => {
    // TEST-NET-1: a public address as the policy sees it, which nothing answers.
    const create = async (user: string): Promise<Response> => await svc.request('/webhooks', {
      method: 'POST', user, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://192.0.2.1/hook', events: ['pin.pinned'] })
    })
    const ids: Array<[string, string]> = []
    try {
      for (let i = 0; i < 20; i++) {
        const res = await create('alice')
        expect(res.status).toBe(201)
        ids.push(['alice', (await res.json() as { id: string }).id])
      }
      const refused = await create('alice')
      if (refused.status === 201) ids.push(['alice', (await refused.clone().json() as { id: string }).id])
      expect(await failureOf(refused)).toMatchObject({ status: 409, details: expect.stringContaining('20 webhooks') })
      const admin = await create('admin') // another user is not affected
      expect(admin.status).toBe(201)
      ids.push(['admin', (await admin.json() as { id: string }).id])
    } finally {
      for (const [user, id] of ids) await svc.request(`/webhooks/${id}`, { method: 'DELETE', user })
    }
  })

  it('one user holds at most 32 event streams (was: any number of sockets kept for good)', async () => {
    const streams: AbortController[] = []
    let last = ''
    const openOne = async (user: string): Promise<number> => {
      const controller = new AbortController()
      const res = await svc.request('/events', { user, signal: controller.signal })
      if (res.status === 200) streams.push(controller)
      else last = await res.text()
      return res.status
    }
    try {
      for (let i = 0; i < 32; i++) expect(await openOne('alice')).toBe(200)
      expect(await openOne('alice')).toBe(429)
      expect(JSON.parse(last)).toMatchObject({ error: { reason: 'TOO_MANY_REQUESTS' } })
      expect(await openOne('admin')).toBe(200) // another user is not affected
      streams.shift()?.abort() // one of alice's closes: she may open another
      await waitFor(async () => await openOne('alice') === 200 ? true : undefined, 10_000,
        'a stream to be allowed again')
    } finally {
      for (const c of streams) c.abort()
    }
  })

  it('a file whose block sizes lie is answered 406, not left hanging (a client leaving then crashed the process)',
    async () => {
      // The exporter, sniffing the first bytes, spun on this file without answering; the client
      // giving up made it reject a promise nobody held, and Node ended the process.
      const root = await lyingFile(svc, 10)
      const res = await svc.request(`/ipfs/${root.toString()}`, { signal: AbortSignal.timeout(10_000) })
      expect(await failureOf(res)).toMatchObject({ status: 406, details: expect.stringContaining('broken') })
      expect((await svc.request('/health')).status).toBe(200)
    })
})

describe('a gateway client that stops reading', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ env: { PINERY_REQUEST_TIMEOUT_MS: '1000' } }) })
  afterAll(async () => { await svc.destroy() })

  it('is cut off once it takes no bytes for the idle timeout (each held ~8.5 MiB for good)', async () => {
    const uploaded = await postContent(svc, randomBytes(48 * 1024 * 1024), { user: 'admin' })
    const file = await uploaded.json() as { pin: { cid: string } }
    const url = new URL(svc.url)
    const socket = connect(Number(url.port), url.hostname)
    socket.write(`GET /ipfs/${file.pin.cid}?format=car HTTP/1.1\r\nHost: x\r\n` +
      `Authorization: Bearer ${svc.tokens.admin as string}\r\n\r\n`)
    socket.pause() // reads nothing: the kernel's buffers fill, then the service's
    await new Promise(resolve => setTimeout(resolve, 5000)) // five idle timeouts
    // Read what is there: a connection the service cut off ends after it, one it kept delivers the whole CAR.
    let received = 0
    socket.on('data', (d: Buffer) => { received += d.byteLength })
    socket.resume()
    const closed = once(socket, 'close').then(() => 'closed')
    const guard = new Promise(resolve => setTimeout(resolve, 15_000, 'still open'))
    expect(await Promise.race([closed, guard])).toBe('closed')
    expect(received).toBeLessThan(48 * 1024 * 1024)
    socket.destroy()
    expect((await svc.request('/health')).status).toBe(200)
  })
})

// In a child process: on the old code these walked millions of blocks that settle without the event
// loop, so the service could not even see its client leave; in-process, the test would hang with it.
describe('attacks on the gateway walk', () => {
  const ADMIN = 'pinery_attacks-admin-token'
  let dataDir: string
  let server: ServerProcess
  let svc: Service
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pinery-attacks-'))
    server = await startServerProcess(serverEnv(dataDir, ADMIN))
    svc = {
      async request (path, init = {}) {
        const headers = new Headers(init.headers)
        headers.set('authorization', `Bearer ${ADMIN}`)
        return await fetch(`${server.url}${path}`, { ...init, headers })
      }
    }
  })
  afterAll(async () => {
    if (server.child.exitCode == null) { server.child.kill('SIGKILL'); await once(server.child, 'exit') }
    await rm(dataDir, { recursive: true, force: true })
  })

  it('a file whose sizes lie is cut off after a bounded walk (was N³ blocks: ~10⁸ for an 80 KB file)', async () => {
    const n = 1000
    const c = await fileNode(Array(n).fill(EMPTY), Array(n).fill(1))
    const b = await fileNode(Array(n).fill(c.cid), Array(n).fill(1))
    const root = await pinned(svc, [await fileNode(Array(n).fill(b.cid), Array(n).fill(1)), b, c])
    const res = await svc.request(`/ipfs/${root.toString()}`, { signal: AbortSignal.timeout(20_000) })
    expect(await failureOf(res)).toMatchObject({ status: 406, details: expect.stringContaining('broken') })
  })

  it('a sharded directory that links one shard over and over is refused with 406 (was 10⁹ entries gathered in memory)',
    async () => {
      // Every link of a shard is named like a bucket ("00"), so the exporter descends into the same
      // shard a thousand times a level, and the listing gathered every entry it met.
      const n = 1000
      const Data = new UnixFS({ type: 'hamt-sharded-directory', fanout: 256n, hashType: 0x22n }).marshal()
      const shard = async (links: dagPb.PBLink[]): Promise<{ cid: CID, bytes: Uint8Array }> => {
        const bytes = dagPb.encode(dagPb.prepare({ Data, Links: links }))
        return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes }
      }
      const file = CID.createV1(raw.code, identity.digest(new TextEncoder().encode('x')))
      const leaf = await shard(Array.from({ length: n }, (_, i) => ({ Name: `00f${i}`, Hash: file, Tsize: 1 })))
      const middle = await shard(Array.from({ length: n }, () => ({ Name: '00', Hash: leaf.cid, Tsize: 1 })))
      const top = await shard(Array.from({ length: n }, () => ({ Name: '00', Hash: middle.cid, Tsize: 1 })))
      const root = await pinned(svc, [top, middle, leaf])
      const res = await svc.request(`/ipfs/${root.toString()}`, { signal: AbortSignal.timeout(20_000) })
      expect(await failureOf(res)).toMatchObject({ status: 406 })
      expect((await svc.request('/health')).status).toBe(200)
    })

  it('empty subtrees linked over and over are skipped (a 2-byte range walked 9 million empty blocks)', async () => {
    const n = 3000
    const one = CID.createV1(raw.code, identity.digest(new Uint8Array([65])))
    const empty = await fileNode(Array(n).fill(EMPTY), Array(n).fill(0))
    const file = await fileNode([one, ...Array(n).fill(empty.cid), one], [1, ...Array(n).fill(0), 1])
    const root = await pinned(svc, [file, empty])
    const res = await svc.request(`/ipfs/${root.toString()}`, {
      headers: { range: 'bytes=0-1' },
      signal: AbortSignal.timeout(20_000)
    })
    expect(res.status).toBe(206)
    expect(await res.text()).toBe('AA')
    expect((await svc.request('/health')).status).toBe(200)
  })
})
