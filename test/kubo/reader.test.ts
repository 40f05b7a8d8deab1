/**
 * kubo as the reference and the reader: uploads through POST /content get the CID kubo computes
 * for the same bytes (`ipfs add --cid-version=1`), kubo fetches Pinery's content over bitswap via
 * the delegates, and Pinery's CAR export imports into kubo and verifies there.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { CarReader } from '@ipld/car/reader'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { postContent } from '../fixtures/content.js'
import { startKubo, type Kubo } from '../fixtures/kubo.js'
import { startService, type TestService } from '../fixtures/service.js'

interface PinStatus { status: string, pin: { cid: string }, delegates: string[] }

const FILES = [
  { path: 'index.html', bytes: Buffer.from('<h1>hello</h1>\n') },
  { path: 'empty.txt', bytes: Buffer.alloc(0) },
  { path: 'css/app.css', bytes: Buffer.from('h1 { color: red }\n') },
  { path: 'deep/x/y.bin', bytes: randomBytes(600 * 1024) }
]

describe('kubo as the reference and the reader of Pinery content', () => {
  let service: TestService
  /** The same service with Pinery's lean bitswap (the other runs stock @helia/bitswap). */
  let lean: TestService
  /** Computes reference CIDs (--only-hash) and reads over bitswap; never given the bytes. */
  let reader: Kubo
  /** Offline: imports CARs. */
  let importer: Kubo
  let dir: string

  const kuboCid = async (path: string, ...flags: string[]): Promise<string> =>
    await reader.ipfs(['add', '-Q', '--only-hash', '--cid-version=1', ...flags, path], 120_000)
  const upload = async (body: Uint8Array | FormData, type?: string, to = service): Promise<PinStatus> => {
    const res = await postContent(to, body, type == null ? {} : { type })
    expect(res.status).toBe(202)
    const status = await res.json() as PinStatus
    expect(status.status).toBe('pinned')
    return status
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-kubo-reader-'))
    service = await startService({ users: ['alice'] })
    lean = await startService({ users: ['alice'], env: { PINERY_BITSWAP: 'lean' } })
    reader = await startKubo()
    importer = await startKubo({ daemonArgs: ['--offline'] })
  })

  afterAll(async () => {
    await reader?.stop()
    await importer?.stop()
    await service?.destroy()
    await lean?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('POST /content of a file gives the CID of ipfs add --cid-version=1, at every layout boundary', async () => {
    const KiB = 1024
    // Empty, one byte, exactly one chunk, one past it, several chunks, and past 174 chunks (a second level).
    for (const size of [0, 1, 256 * KiB, 256 * KiB + 1, 1200 * KiB, 174 * 256 * KiB + 1]) {
      const bytes = randomBytes(size)
      const file = join(dir, `file-${size}`)
      await writeFile(file, bytes)
      const status = await upload(bytes, 'application/octet-stream')
      expect(status.pin.cid, `${size} bytes`).toBe(await kuboCid(file))
    }
  })

  it('a form of one file gives the CID of ipfs add --cid-version=1 (as curl -F file=@report.pdf sends it); with ' +
    'wrap-with-directory=true that of ipfs add -w', async () => {
    // Old code: the CID of `ipfs add -w`, a directory wrapping the file.
    for (const size of [17, 256 * 1024 + 1]) {
      const bytes = randomBytes(size)
      const file = join(dir, `report-${size}.pdf`)
      await writeFile(file, bytes)
      const form = (): FormData => {
        const f = new FormData()
        f.append('file', new Blob([bytes]), `report-${size}.pdf`)
        return f
      }
      expect((await upload(form())).pin.cid, `${size} bytes`).toBe(await kuboCid(file))
      const wrapped = await postContent(service, form(), { query: { 'wrap-with-directory': 'true' } })
      expect(wrapped.status).toBe(202)
      expect(((await wrapped.json()) as PinStatus).pin.cid, `${size} bytes, wrapped`).toBe(await kuboCid(file, '-w'))
    }
  })

  it('POST /content of a folder gives the CID of ipfs add -r --cid-version=1', async () => {
    const root = join(dir, 'site')
    for (const f of FILES) {
      await mkdir(dirname(join(root, f.path)), { recursive: true })
      await writeFile(join(root, f.path), f.bytes)
    }
    const form = new FormData()
    for (const f of FILES) form.append('file', new Blob([f.bytes]), f.path)
    const status = await upload(form)
    expect(status.pin.cid).toBe(await kuboCid(root, '-r'))
  })

  it('a form of one folder (its parts named site/…, as a browser\'s folder picker sends them) gives the CID of ' +
    'ipfs add -r site, a folder of one file too; with wrap-with-directory=true that of ipfs add -r -w', async () => {
    // Old code: the CID of `ipfs add -r -w site`, a directory holding the folder.
    for (const [folder, files] of [['site', FILES], ['memo', [{ path: 'memo.txt', bytes: Buffer.from('one\n') }]]] as
      const) {
      const root = join(dir, 'one-folder', folder)
      const form = (): FormData => {
        const f = new FormData()
        for (const file of files) f.append('file', new Blob([file.bytes]), `${folder}/${file.path}`)
        return f
      }
      for (const f of files) {
        await mkdir(dirname(join(root, f.path)), { recursive: true })
        await writeFile(join(root, f.path), f.bytes)
      }
      expect((await upload(form())).pin.cid, folder).toBe(await kuboCid(root, '-r'))
      const wrapped = await postContent(service, form(), { query: { 'wrap-with-directory': 'true' } })
      expect(wrapped.status).toBe(202)
      expect(((await wrapped.json()) as PinStatus).pin.cid, `${folder}, wrapped`).toBe(await kuboCid(root, '-r', '-w'))
    }
  })

  it.each(['helia', 'lean'])('kubo fetches pinned content over %s bitswap through the delegates: ipfs get and ipfs ' +
    'dag export', async (bitswap) => {
    const form = new FormData()
    for (const f of FILES) form.append('file', new Blob([f.bytes]), f.path)
    form.append('file', new Blob([randomBytes(100)]), 'salt') // content kubo has never seen
    const status = await upload(form, undefined, bitswap === 'lean' ? lean : service)
    const cid = status.pin.cid
    expect(status.delegates.length).toBeGreaterThan(0)
    for (const d of status.delegates) expect(d).toMatch(/\/p2p\/12D3Koo/)
    await reader.ipfs(['swarm', 'connect', status.delegates[0] as string])

    const out = join(dir, `got-${bitswap}`)
    await reader.ipfs(['get', '-o', out, cid], 60_000)
    for (const f of FILES) expect((await readFile(join(out, f.path))).equals(f.bytes), f.path).toBe(true)

    const exported = await reader.run(['dag', 'export', '--progress=false', cid], 60_000)
    expect(exported.code, exported.stderr).toBe(0)
    const car = await CarReader.fromBytes(exported.stdout)
    expect((await car.getRoots()).map(String)).toEqual([cid])
    let blocks = 0
    for await (const block of car.blocks()) {
      blocks++
      if (block.cid.multihash.code === sha256.code) {
        const digest = createHash('sha256').update(block.bytes).digest()
        expect(digest.equals(block.cid.multihash.digest), block.cid.toString()).toBe(true)
      }
    }
    expect(blocks).toBeGreaterThanOrEqual(FILES.length + 3)
  })

  it('the CAR of GET /ipfs/{cid}?format=car imports into kubo and verifies', async () => {
    const bytes = randomBytes(900 * 1024)
    const { pin } = await upload(bytes, 'application/octet-stream')
    const res = await service.request(`/ipfs/${pin.cid}?format=car`, { user: 'alice' })
    expect(res.status).toBe(200)
    const file = join(dir, 'export.car')
    await writeFile(file, Buffer.from(await res.arrayBuffer()))

    const lines = (await importer.ipfs(['dag', 'import', '--stats', '--enc=json', file])).split('\n')
    type Line = { Root?: { Cid: { '/': string }, PinErrorMsg: string }, Stats?: { BlockCount: number } }
    const imported = lines.map(l => JSON.parse(l) as Line)
    const root = imported.find(l => l.Root != null)?.Root
    expect(root?.Cid['/']).toBe(pin.cid)
    expect(root?.PinErrorMsg).toBe('')
    expect(imported.find(l => l.Stats != null)?.Stats?.BlockCount).toBe(5) // four 256 KiB leaves and the root
    // The importer is offline: what it reads, it got from the CAR.
    const read = await importer.run(['cat', '--offline', pin.cid])
    expect(read.stdout.equals(bytes)).toBe(true)
    const verify = await importer.run(['repo', 'verify'])
    expect(verify.code, verify.stderr).toBe(0)
    expect(CID.parse(pin.cid).version).toBe(1)
  })
})
