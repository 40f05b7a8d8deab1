/**
 * bench:content — memory while uploading through POST /content: a fresh
 * Pinery process per run takes one file of N MiB (raw body, or one file in a
 * multipart form), streamed from here without ever holding it; its RSS is
 * sampled every 20 ms. Flat memory means the 512 MiB peak is about the
 * 64 MiB one.
 *
 *   npm run bench:content -- [--sizes 64,512] [--kinds raw,form] [--runs 1]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess } from '../../test/fixtures/process.js'
import { MiB, mib, peakRss, table } from './lib.js'

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '64,512' }, kinds: { type: 'string', default: 'raw,form' }, runs: { type: 'string', default: '1' } } })
const sizes = values.sizes.split(',').map(Number)
const kinds = values.kinds.split(',') as Array<'raw' | 'form'>
const runs = Number(values.runs)
const TOKEN = 'pinery_bench-content-token'
const BOUNDARY = 'pinery-bench-boundary'

async function rss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** POSTs `mib` MiB of fresh random bytes, 1 MiB at a time with backpressure; resolves with the answer. */
async function upload (url: string, kind: 'raw' | 'form', size: number): Promise<{ status: number, body: string }> {
  const head = kind === 'form' ? Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench/data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`) : Buffer.alloc(0)
  const tail = kind === 'form' ? Buffer.from(`\r\n--${BOUNDARY}--\r\n`) : Buffer.alloc(0)
  const type = kind === 'form' ? `multipart/form-data; boundary=${BOUNDARY}` : 'application/octet-stream'
  return await new Promise((resolve, reject) => {
    const req = request(new URL('/content', url), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type, 'content-length': String(head.byteLength + size * MiB + tail.byteLength) } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject)
    void (async () => {
      const write = async (chunk: Buffer): Promise<void> => { if (!req.write(chunk)) await new Promise(resolve => req.once('drain', resolve)) }
      await write(head)
      for (let i = 0; i < size; i++) await write(randomBytes(MiB))
      await write(tail)
      req.end()
    })().catch(reject)
  })
}

/** PINERY_* variables of this process, passed on (e.g. PINERY_REQUEST_TIMEOUT_MS). */
function pineryEnv (): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('PINERY_') && v != null)) as Record<string, string>
}

interface Run { idle: number, peak: number, hwm: number, seconds: number }

async function measure (kind: 'raw' | 'form', size: number): Promise<Run> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-content-'))
  const server = await startServerProcess({ PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: TOKEN, PINERY_LOG_LEVEL: 'warn', ...pineryEnv() })
  const pid = server.child.pid as number
  try {
    await new Promise(resolve => setTimeout(resolve, 1000)) // let start-up settle
    const idle = await rss(pid)
    let peak = idle
    const sampler = setInterval(() => { rss(pid).then(r => { peak = Math.max(peak, r) }, () => {}) }, 20)
    const started = performance.now()
    const answer = await upload(server.url, kind, size).catch((err: Error) => {
      throw new Error(`upload failed (${err.message}); Pinery exit code ${String(server.child.exitCode)}, stderr:\n${server.stderr().slice(-2000)}`)
    }).finally(() => { clearInterval(sampler) })
    const seconds = (performance.now() - started) / 1000
    if (answer.status !== 202) throw new Error(`POST /content answered ${answer.status}: ${answer.body}`)
    const status = JSON.parse(answer.body) as { status: string, info: { dag_size?: string } }
    if (status.status !== 'pinned' || Number(status.info.dag_size) < size * MiB) throw new Error(`unexpected answer: ${answer.body}`)
    return { idle, peak, hwm: await peakRss(pid), seconds }
  } finally {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

const rows: Array<Array<string | number>> = []
for (const kind of kinds) {
  for (const size of sizes) {
    for (let i = 0; i < runs; i++) {
      const r = await measure(kind, size)
      process.stderr.write(`${kind} ${size} MiB: ${(size / r.seconds).toFixed(1)} MiB/s, RSS idle ${mib(r.idle)} MiB, peak while uploading ${mib(r.peak)} MiB (VmHWM ${mib(r.hwm)} MiB)\n`)
      rows.push([kind, `${size} MiB`, r.seconds.toFixed(1), (size / r.seconds).toFixed(1), mib(r.idle), mib(r.peak), mib(r.peak - r.idle), mib(r.hwm)])
    }
  }
}
process.stdout.write(`\nbench:content — one upload per fresh Pinery process, RSS sampled every 20 ms\n\n`)
process.stdout.write(table(['body', 'size', 'seconds', 'MiB/s', 'RSS idle MiB', 'RSS peak MiB', 'peak − idle MiB', 'VmHWM MiB'], rows) + '\n')
