/**
 * bench:upload-blocks — memory per block of one CAR upload of many tiny blocks (what
 * PINERY_MAX_UPLOAD_BLOCKS bounds): a fresh Pinery process per run takes a CAR of N distinct raw
 * blocks of a few bytes (the first is the root), streamed from here; its RSS is sampled every
 * 20 ms. (peak − idle) / N is the per-block cost. Side by side with another build's
 * dist/server.js through --base.
 *
 *   node --import tsx scripts/bench/upload-blocks.ts [--blocks 100000] [--size BYTES] [--runs 3]
 *     [--base DIR/dist/server.js] [--this DIR/dist/server.js] [--incomplete true] [--roots 1]
 *
 * --incomplete: the root is a dag-cbor block linking to a block the CAR lacks, so the upload is answered
 * `queued` and its block list is stored for the request (upload-blocks.ts); the other blocks as before.
 * --roots R: the first R blocks are roots (at most 1,000), each a request of its own: what a multi-root
 * CAR costs per request.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SERVER, startServerProcess } from '../../test/fixtures/process.js'
import { carSection, cpuSeconds, postContent, serverEnv, median, mib, peakRss, table } from './lib.js'

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '100000' },
    size: { type: 'string', default: '0' },
    runs: { type: 'string', default: '3' },
    base: { type: 'string' },
    this: { type: 'string', default: SERVER },
    incomplete: { type: 'string', default: 'false' },
    roots: { type: 'string', default: '1' }
  }
})
const N = Number(values.blocks)
const TOKEN = 'pinery_bench-upload-blocks-token'

async function rss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** The CAR, made once (a few MB): header, then N raw blocks `b<i>`, the first one the root. */
async function makeCar (): Promise<Buffer> {
  const parts: Buffer[] = []
  const roots: CID[] = []
  for (let i = 0; i < N; i++) {
    const bytes = new TextEncoder().encode(`b${i}`.padEnd(Number(values.size), '.'))
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    if (roots.length < Number(values.roots)) roots.push(cid)
    parts.push(carSection(Buffer.concat([cid.bytes, bytes])))
  }
  if (values.incomplete === 'true') {
    const missing = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('not in the CAR')))
    const bytes = dagCbor.encode({ missing })
    roots[0] = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    parts.unshift(carSection(Buffer.concat([roots[0].bytes, bytes])))
  }
  return Buffer.concat([carSection(dagCbor.encode({ version: 1, roots })), ...parts])
}

interface Run { idle: number, peak: number, hwm: number, seconds: number, cpu: number }

async function measure (script: string, car: Buffer): Promise<Run> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-upload-blocks-'))
  const server = await startServerProcess({
    ...serverEnv(dataDir, TOKEN), PINERY_MAX_UPLOAD_BLOCKS: String(N + 1)
  }, script)
  const pid = server.child.pid as number
  try {
    await new Promise(resolve => setTimeout(resolve, 1000))
    const idle = await rss(pid)
    let peak = idle
    const sampler = setInterval(() => { rss(pid).then(r => { peak = Math.max(peak, r) }, () => {}) }, 20)
    const started = performance.now()
    const cpuBefore = await cpuSeconds(pid)
    const chunks = function * (): Generator<Buffer> {
      for (let at = 0; at < car.length; at += 1 << 20) yield car.subarray(at, at + (1 << 20))
    }
    const answer = await postContent(server.url, TOKEN, 'application/vnd.ipld.car', car.length, chunks())
      .finally(() => { clearInterval(sampler) })
    const seconds = (performance.now() - started) / 1000
    if (answer.status !== 202) throw new Error(`POST /content answered ${answer.status}: ${answer.body}`)
    return { idle, peak, hwm: await peakRss(pid), seconds, cpu: await cpuSeconds(pid) - cpuBefore }
  } finally {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

const car = await makeCar()
const builds: Array<[string, string]> = [['this', values.this]]
if (values.base != null) builds.push(['base', values.base])
const runs = new Map<string, Run[]>(builds.map(([name]) => [name, []]))
for (let i = 0; i < Number(values.runs); i++) {
  for (const [name, script] of builds) {
    const r = await measure(script, car)
    runs.get(name)?.push(r)
    process.stderr.write(`${name} run ${i + 1}: idle ${mib(r.idle)} MiB, peak ${mib(r.peak)} MiB, ` +
      `${((r.peak - r.idle) / N).toFixed(0)} B/block, ${r.seconds.toFixed(1)} s, ${r.cpu.toFixed(1)} CPU-s\n`)
  }
}
const rows = builds.map(([name]) => {
  const rs = runs.get(name) ?? []
  const extra = rs.map(r => r.peak - r.idle)
  return [name, rs.length, mib(median(rs.map(r => r.idle))), mib(median(rs.map(r => r.peak))), mib(median(extra)),
    (median(extra) / N).toFixed(0), extra.map(e => (e / N).toFixed(0)).join(' / '),
    median(rs.map(r => r.seconds)).toFixed(1), median(rs.map(r => r.cpu)).toFixed(1)]
})
process.stdout.write(
  `\nbench:upload-blocks — one CAR of ${N} tiny blocks, ${values.roots} roots (${mib(car.length)} MiB) ` +
  'per fresh process\n\n')
process.stdout.write(table(['build', 'runs', 'idle MiB', 'peak MiB', 'peak − idle MiB', 'B/block (median)',
  'B/block (runs)', 'seconds', 'CPU-s'], rows) + '\n')
