/**
 * GET/HEAD /ipfs/{cid}[/path] against a real service: the trustless formats
 * (raw block, CAR checked with @ipld/car's own reader and imported into a
 * second service), UnixFS files with ranges and validators, directory
 * listings, what is not pinned, and who may read.
 */
import { randomBytes } from 'node:crypto'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { blocksOf, carOf, directoryDag, failureOf, postContent, storedOf, type MemoryDag } from '../fixtures/content.js'

interface WirePinStatus { requestid: string, status: string, pin: { cid: string }, info: Record<string, string> }

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
const FILES = [
  { path: 'index.html', bytes: new TextEncoder().encode('<!doctype html><p>hi</p>') },
  { path: 'data/big.bin', bytes: randomBytes(700 * 1024) },
  { path: 'data/table.json', bytes: new TextEncoder().encode('{"a":1}') },
  { path: 'data/picture', bytes: PNG },
  { path: 'notes', bytes: new TextEncoder().encode('just words\n') }
]

async function pinnedUpload (
  svc: TestService, body: NonNullable<RequestInit['body']>, type?: string
): Promise<WirePinStatus> {
  const res = await postContent(svc, body, type != null ? { type } : {})
  const text = await res.text()
  expect(res.status, text).toBe(202)
  return JSON.parse(text) as WirePinStatus
}

/** Reads a CAR with @ipld/car, checking every block's hash against its CID. */
async function readCar (bytes: Uint8Array): Promise<{ roots: CID[], blocks: Array<{ cid: CID, bytes: Uint8Array }> }> {
  const reader = await CarBlockIterator.fromBytes(bytes)
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  for await (const block of reader) {
    const hashed = Buffer.from((await sha256.digest(block.bytes)).digest)
    expect(hashed.equals(Buffer.from(block.cid.multihash.digest)), block.cid.toString()).toBe(true)
    blocks.push(block)
  }
  return { roots: await reader.getRoots(), blocks }
}

const keys = (blocks: Array<{ cid: CID }>): string[] => blocks.map(b => b.cid.toString()).sort()

describe('GET /ipfs', () => {
  let svc: TestService
  let dir: MemoryDag
  let root: string
  beforeAll(async () => {
    svc = await startService({ users: ['alice'] })
    dir = await directoryDag(FILES)
    const form = new FormData()
    for (const f of FILES) form.append('file', new Blob([f.bytes]), f.path)
    root = (await pinnedUpload(svc, form)).pin.cid
    expect(root).toBe(dir.root.toString())
  })
  afterAll(async () => { await svc.destroy() })

  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> =>
    await svc.request(path, { user: 'alice', method, headers })

  it('answers a single block for Accept: application/vnd.ipld.raw and ?format=raw', async () => {
    const expected = (await blocksOf(dir)).find(b => b.cid.equals(dir.root))
    for (const res of [
      await get(`/ipfs/${root}`, { accept: 'application/vnd.ipld.raw' }), await get(`/ipfs/${root}?format=raw`)
    ]) {
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw')
      expect(res.headers.get('etag')).toBe(`"${root}.raw"`)
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(expected?.bytes ?? []))).toBe(true)
    }
    // A path resolves first: the block of the file it names.
    const notes = await get(`/ipfs/${root}/notes?format=raw`)
    expect(Buffer.from(await notes.arrayBuffer()).toString()).toBe('just words\n')
  })

  it('negotiates Accept: an IPLD type only when named over the rest, by q or by being specific', async () => {
    const kinds: Array<[string, RegExp]> = [
      ['*/*', /^application\/json/], // the directory listing
      ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', /^application\/json/],
      ['application/*', /^application\/json/],
      ['application/vnd.ipld.car, */*', /^application\/vnd\.ipld\.car/],
      ['Application/Vnd.Ipld.Raw', /^application\/vnd\.ipld\.raw/],
      ['application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car', /^application\/vnd\.ipld\.car/],
      ['application/vnd.ipld.car;q=0, */*', /^application\/json/]
    ]
    for (const [accept, type] of kinds) {
      const res = await get(`/ipfs/${root}`, { accept }, 'HEAD')
      expect(res.status, accept).toBe(200)
      expect(res.headers.get('content-type'), accept).toMatch(type)
    }
  })

  it('streams a CAR of the whole DAG that another service imports to the same blocks', async () => {
    const res = await get(`/ipfs/${root}`, { accept: 'application/vnd.ipld.car' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.ipld\.car; version=1/)
    const car = new Uint8Array(await res.arrayBuffer())
    const { roots, blocks } = await readCar(car)
    expect(roots.map(String)).toEqual([root])
    expect(keys(blocks)).toEqual(keys(await blocksOf(dir)))
    expect(blocks[0]?.cid.toString()).toBe(root) // depth-first from the root

    const elsewhere = await startService({ users: ['alice'] })
    try {
      const imported = await pinnedUpload(elsewhere, car, 'application/vnd.ipld.car')
      expect(imported).toMatchObject({ status: 'pinned', pin: { cid: root } })
      expect(await storedOf(elsewhere, blocks.map(b => b.cid))).toHaveLength(blocks.length)
      const again = await elsewhere.request(`/ipfs/${root}?format=car`, { user: 'alice' })
      expect(keys((await readCar(new Uint8Array(await again.arrayBuffer()))).blocks)).toEqual(keys(blocks))
    } finally {
      await elsewhere.destroy()
    }
  })

  it('puts the path\'s nodes and the target\'s DAG, and nothing else, in the CAR of a path', async () => {
    const res = await get(`/ipfs/${root}/data?format=car`)
    const { roots, blocks } = await readCar(new Uint8Array(await res.arrayBuffer()))
    expect(roots.map(String)).toEqual([root])
    const listing = await (await get(`/ipfs/${root}/data`)).json() as { cid: string }
    const data = await blocksOf({ root: CID.parse(listing.cid), blockstore: dir.blockstore })
    expect(keys(blocks)).toEqual([root, ...data.map(b => b.cid.toString())].sort())
  })

  it('serves files with a type by name or content, ETag, 304, HEAD and ranges', async () => {
    const types: Array<[string, RegExp]> = [
      ['index.html', /^text\/html/], ['data/table.json', /^application\/json/], ['data/picture', /^image\/png$/],
      ['notes', /^text\/plain/], ['data/big.bin', /^application\/octet-stream$/]
    ]
    for (const [path, type] of types) {
      expect((await get(`/ipfs/${root}/${path}`)).headers.get('content-type'), path).toMatch(type)
    }

    const big = FILES[1]?.bytes as Uint8Array
    const url = `/ipfs/${root}/data/big.bin`
    const whole = await get(url)
    const etag = whole.headers.get('etag') as string
    expect(etag).toMatch(/^"bafy[a-z0-9]+"$/)
    expect(whole.headers.get('accept-ranges')).toBe('bytes')
    expect(whole.headers.get('x-content-type-options')).toBe('nosniff')
    expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(big))).toBe(true)

    const cached = await get(url, { 'if-none-match': etag })
    expect(cached.status).toBe(304)
    expect((await cached.arrayBuffer()).byteLength).toBe(0)
    expect((await get(url, { 'if-none-match': '"something-else"' })).status).toBe(200)

    const head = await get(url, {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(big.byteLength))
    expect((await head.arrayBuffer()).byteLength).toBe(0)

    const size = big.byteLength
    const ranges: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 1], ['bytes=262140-262150', 262140, 11], [`bytes=${size - 10}-`, size - 10, 10],
      ['bytes=-300000', size - 300000, 300000], [`bytes=700000-${size + 50}`, 700000, size - 700000]
    ]
    for (const [range, offset, length] of ranges) {
      const res = await get(url, { range })
      expect(res.status, range).toBe(206)
      expect(res.headers.get('content-range'), range).toBe(`bytes ${offset}-${offset + length - 1}/${size}`)
      const body = Buffer.from(await res.arrayBuffer())
      expect(body.equals(Buffer.from(big.subarray(offset, offset + length))), range).toBe(true)
    }
    const beyond = await get(url, { range: `bytes=${size}-` })
    expect(beyond.status).toBe(416)
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`)
    expect(await failureOf(beyond)).toMatchObject({ reason: 'RANGE_NOT_SATISFIABLE' })
    // Several ranges, or an If-Range for another version: the whole file.
    expect((await get(url, { range: 'bytes=0-1,5-6' })).status).toBe(200)
    expect((await get(url, { range: 'bytes=0-1', 'if-range': '"old"' })).status).toBe(200)
  })

  it('lists directories as JSON and resolves paths through them', async () => {
    const res = await get(`/ipfs/${root}`)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const listing = await res.json() as { cid: string, entries: Array<{ name: string, cid: string, size: number }> }
    expect(listing.cid).toBe(root)
    expect(listing.entries.map(e => e.name).sort()).toEqual(['data', 'index.html', 'notes'])
    const notes = listing.entries.find(e => e.name === 'notes')
    expect(await (await get(`/ipfs/${notes?.cid ?? ''}`)).text()).toBe('just words\n')
    expect(notes?.size).toBe(11)
  })

  it('serves a pinned dag-cbor node as its block', async () => {
    const bytes = dagCbor.encode({ hello: 'world', n: 1 })
    const cid = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    await pinnedUpload(svc, await carOf([cid], [{ cid, bytes }]), 'application/vnd.ipld.car')
    const res = await get(`/ipfs/${cid.toString()}`)
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.dag-cbor')
    expect(dagCbor.decode(new Uint8Array(await res.arrayBuffer()))).toEqual({ hello: 'world', n: 1 })
  })

  it('answers 404 for what is not pinned, even when its blocks are still on disk, and for missing paths', async () => {
    const nobody = CID.createV1(0x55, await sha256.digest(randomBytes(16)))
    expect(await failureOf(await get(`/ipfs/${nobody.toString()}`))).toMatchObject({ status: 404, reason: 'NOT_FOUND' })
    const gone = await pinnedUpload(svc, randomBytes(5000))
    expect((await get(`/ipfs/${gone.pin.cid}`)).status).toBe(200)
    expect((await svc.request(`/pins/${gone.requestid}`, { user: 'alice', method: 'DELETE' })).status).toBe(202)
    expect(await failureOf(await get(`/ipfs/${gone.pin.cid}`))).toMatchObject({ status: 404, reason: 'NOT_FOUND' })
    expect(await failureOf(await get(`/ipfs/${root}/no/such/file`))).toMatchObject({ status: 404, reason: 'NOT_FOUND' })
    expect(await failureOf(await get(`/ipfs/${root}/notes/inside-a-file`)))
      .toMatchObject({ status: 404, reason: 'NOT_FOUND' })
  })

  it('answers even its errors, which quote the path, with nosniff and a sandbox', async () => {
    const html = encodeURIComponent('<svg onload=alert(1)>')
    for (const path of [`/ipfs/${root}/${html}`, `/ipfs/${html}`, `/ipfs/${root}?format=zip`]) {
      const res = await get(path)
      expect(res.status, path).toBeGreaterThanOrEqual(400)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('content-security-policy'), path).toBe('sandbox')
    }
  })

  it('names the answer by ?filename= (download=true: an attachment), as the path gateway spec says', async () => {
    // Old code: no Content-Disposition, so a browser saved the file under its CID.
    const disposition = async (query: string): Promise<string | null> => {
      const res = await get(`/ipfs/${root}/data/big.bin?${query}`)
      expect(res.status, query).toBe(200)
      return res.headers.get('content-disposition')
    }
    expect(await disposition('filename=q3.bin')).toBe('inline; filename="q3.bin"')
    expect(await disposition('filename=q3.bin&download=true')).toBe('attachment; filename="q3.bin"')
    expect(await disposition('filename=r%C3%A9sum%C3%A9%20(1).pdf')).toBe(
      'inline; filename="r_sum_ (1).pdf"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20%281%29.pdf')
    expect(await disposition('download=true')).toBeNull()
    const car = await get(`/ipfs/${root}?format=car&filename=site.car`)
    expect(car.headers.get('content-disposition')).toBe('attachment; filename="site.car"')
    await car.arrayBuffer()
    for (const bad of ['filename=', 'filename=a%0D%0ASet-Cookie:%20x=1', 'filename=invoice%E2%80%AEfdp.exe',
      `filename=${'a'.repeat(256)}`, 'filename=a&filename=b', 'filename=a&download=yes']) {
      expect(await failureOf(await get(`/ipfs/${root}/notes?${bad}`)), bad)
        .toMatchObject({ status: 400, reason: 'BAD_REQUEST', details: /^(filename|download):/ })
    }
  })

  it('refuses malformed requests', async () => {
    expect(await failureOf(await get('/ipfs/not-a-cid'))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failureOf(await get(`/ipfs/${'b'.repeat(3000)}`)))
      .toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failureOf(await get(`/ipfs/${root}?format=zip`))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failureOf(await svc.request(`/ipfs/${root}`, { user: 'alice', method: 'POST' })))
      .toMatchObject({ status: 405 })
  })
})

describe('who may read and add content', () => {
  let svc: TestService
  let cid: string
  const scoped: Record<string, string> = {}
  beforeAll(async () => {
    svc = await startService({ users: ['alice'] })
    for (const scope of ['pins:add', 'pins:read']) {
      const res = await svc.request('/tokens', {
        user: 'alice', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scope })
      })
      scoped[scope] = (await res.json() as { secret: string }).secret
    }
    cid = (await pinnedUpload(svc, 'readable')).pin.cid
  })
  afterAll(async () => { await svc.destroy() })

  it('lets pins:add upload but not read, pins:read read, and nobody in without a token', async () => {
    const add = scoped['pins:add'] as string
    const read = scoped['pins:read'] as string
    expect((await postContent(svc, 'added', { user: add })).status).toBe(202)
    expect(await failureOf(await svc.request(`/ipfs/${cid}`, { user: add })))
      .toMatchObject({ status: 403, reason: 'FORBIDDEN', details: expect.stringMatching(/pins:read/) })
    const res = await svc.request(`/ipfs/${cid}`, { user: read })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toMatch(/^private/)
    expect(await failureOf(await svc.request(`/ipfs/${cid}`, { user: null })))
      .toMatchObject({ status: 401, reason: 'UNAUTHORIZED' })
    expect(await failureOf(await postContent(svc, 'x', { user: null })))
      .toMatchObject({ status: 401, reason: 'UNAUTHORIZED' })
  })
})

describe('PINERY_GATEWAY_AUTH=none', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'], env: { PINERY_GATEWAY_AUTH: 'none' } }) })
  afterAll(async () => { await svc.destroy() })

  it('lets anyone read pinned content, and still only token holders upload', async () => {
    const { pin } = await pinnedUpload(svc, 'public words')
    const res = await svc.request(`/ipfs/${pin.cid}`, { user: null })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toMatch(/^public/)
    expect(await res.text()).toBe('public words')
    expect(await failureOf(await svc.request(`/ipfs/${pin.cid}?format=zip`, { user: null })))
      .toMatchObject({ status: 400 })
    expect(await failureOf(await postContent(svc, 'x', { user: null })))
      .toMatchObject({ status: 401, reason: 'UNAUTHORIZED' })
    expect(await failureOf(await svc.request('/pins', { user: null }))).toMatchObject({ status: 401 })
  })
})
