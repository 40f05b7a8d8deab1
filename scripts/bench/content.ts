/**
 * bench:content — memory while uploading through POST /content: a fresh
 * Pinery process per run takes one file of N MiB (raw body, one file in a
 * multipart form, or a CAR of a file DAG), streamed from here without ever
 * holding it; its RSS is
 * sampled every 20 ms. Flat memory means the 512 MiB peak is about the
 * 64 MiB one.
 *
 *   npm run bench:content -- [--sizes 64,512] [--kinds raw,form,car] [--runs 1] \
 *     [--builds 'this=dist/server.js;main=/path/to/main/dist/server.js;flagless=dist/server.js=--some-node-flag']
 *
 * A build is `label=script[=node flags]` (as receiver-ab's variants); each upload runs on every
 * build in turn, the order reversed every other upload.
 */
import { createCipheriv, randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess } from '../../test/fixtures/process.js'
import { carSection, postContent, serverEnv, MiB, mib, peakRss, table } from './lib.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,512' },
    kinds: { type: 'string', default: 'raw,form,car' },
    runs: { type: 'string', default: '1' },
    builds: { type: 'string', default: 'this=dist/server.js' }
  }
})
const builds = values.builds.split(';').map(b => {
  const [label, script, ...flags] = b.split('=')
  return { label: label as string, script: resolve(script as string), flags: flags.join('=') }
})
const sizes = values.sizes.split(',').map(Number)
type Kind = 'raw' | 'form' | 'car'
const kinds = values.kinds.split(',') as Kind[]
const runs = Number(values.runs)
const TOKEN = 'pinery_bench-content-token'
const BOUNDARY = 'pinery-bench-boundary'

async function rss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

const LEAF = 256 * 1024

/** Leaf `i` of the CAR's file: pseudo-random bytes made again on demand (AES-CTR keystream), so nothing is held. */
function leaf (i: number): Buffer {
  const iv = Buffer.alloc(16)
  iv.writeUInt32BE(i, 12)
  return createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), iv).update(Buffer.alloc(LEAF))
}

/** A CAR of a `size` MiB UnixFS file (raw leaves under one dag-pb node), as a stream of sections. */
async function * carOf (size: number): AsyncGenerator<Buffer> {
  const count = size * MiB / LEAF
  const leaves: CID[] = []
  for (let i = 0; i < count; i++) leaves.push(CID.createV1(raw.code, await sha256.digest(leaf(i))))
  const file = new UnixFS({ type: 'file', blockSizes: leaves.map(() => BigInt(LEAF)) })
  const root = dagPb.encode({ Data: file.marshal(), Links: leaves.map(Hash => ({ Hash, Name: '', Tsize: LEAF })) })
  const rootCid = CID.createV1(dagPb.code, await sha256.digest(root))
  yield carSection(dagCbor.encode({ version: 1, roots: [rootCid] }))
  yield carSection(Buffer.concat([rootCid.bytes, root]))
  for (let i = 0; i < count; i++) yield carSection(Buffer.concat([(leaves[i] as CID).bytes, leaf(i)]))
}

/** The CAR's length, without making it. */
async function carLength (size: number): Promise<number> {
  let n = 0
  for await (const chunk of carOf(size)) n += chunk.byteLength
  return n
}

/** POSTs `mib` MiB of fresh random bytes (or a CAR), 1 MiB at a time with backpressure; resolves with the answer. */
async function upload (url: string, kind: Kind, size: number): Promise<{ status: number, body: string }> {
  if (kind === 'car') {
    return await postContent(url, TOKEN, 'application/vnd.ipld.car', await carLength(size), carOf(size))
  }
  const head = kind === 'form'
    ? Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench/data.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n')
    : Buffer.alloc(0)
  const tail = kind === 'form' ? Buffer.from(`\r\n--${BOUNDARY}--\r\n`) : Buffer.alloc(0)
  const type = kind === 'form' ? `multipart/form-data; boundary=${BOUNDARY}` : 'application/octet-stream'
  const body = async function * (): AsyncGenerator<Buffer> {
    yield head
    for (let i = 0; i < size; i++) yield randomBytes(MiB)
    yield tail
  }
  return await postContent(url, TOKEN, type, head.byteLength + size * MiB + tail.byteLength, body())
}

/** PINERY_* variables of this process, passed on (e.g. PINERY_REQUEST_TIMEOUT_MS). */
function pineryEnv (): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env)
    .filter(([k, v]) => k.startsWith('PINERY_') && v != null)) as Record<string, string>
}

interface Run { idle: number, peak: number, hwm: number, seconds: number }

async function measure (kind: Kind, size: number, build: typeof builds[number]): Promise<Run> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-content-'))
  process.env.PINERY_NODE_FLAGS = build.flags
  const server = await startServerProcess({
    ...serverEnv(dataDir, TOKEN),
    ...pineryEnv()
  }, build.script)
  const pid = server.child.pid as number
  try {
    await new Promise(resolve => setTimeout(resolve, 1000)) // let start-up settle
    const idle = await rss(pid)
    let peak = idle
    const sampler = setInterval(() => { rss(pid).then(r => { peak = Math.max(peak, r) }, () => {}) }, 20)
    const started = performance.now()
    const answer = await upload(server.url, kind, size).catch((err: Error) => {
      throw new Error(`upload failed (${err.message}); Pinery exit code ${String(server.child.exitCode)}, ` +
        `stderr:\n${server.stderr().slice(-2000)}`)
    }).finally(() => { clearInterval(sampler) })
    const seconds = (performance.now() - started) / 1000
    if (answer.status !== 202) throw new Error(`POST /content answered ${answer.status}: ${answer.body}`)
    const status = JSON.parse(answer.body) as { status: string, info: { dag_size?: string } }
    if (status.status !== 'pinned' || Number(status.info.dag_size) < size * MiB) {
      throw new Error(`unexpected answer: ${answer.body}`)
    }
    return { idle, peak, hwm: await peakRss(pid), seconds }
  } finally {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

const rows: Array<Array<string | number>> = []
let uploads = 0
for (const kind of kinds) {
  for (const size of sizes) {
    for (let i = 0; i < runs; i++) {
      for (const build of uploads++ % 2 === 0 ? builds : [...builds].reverse()) {
        const r = await measure(kind, size, build)
        process.stderr.write(`${build.label}: ${kind} ${size} MiB: ${(size / r.seconds).toFixed(1)} MiB/s, ` +
          `RSS idle ${mib(r.idle)} MiB, ` +
          `peak while uploading ${mib(r.peak)} MiB (VmHWM ${mib(r.hwm)} MiB)\n`)
        rows.push([build.label, kind, `${size} MiB`, r.seconds.toFixed(1), (size / r.seconds).toFixed(1), mib(r.idle),
          mib(r.peak), mib(r.peak - r.idle), mib(r.hwm)])
      }
    }
  }
}
process.stdout.write('\nbench:content — one upload per fresh Pinery process, RSS sampled every 20 ms\n\n')
process.stdout.write(table(['build', 'body', 'size', 'seconds', 'MiB/s', 'RSS idle MiB', 'RSS peak MiB',
  'peak − idle MiB', 'VmHWM MiB'], rows) + '\n')
