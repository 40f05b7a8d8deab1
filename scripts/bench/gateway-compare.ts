/**
 * bench:gateway-compare — the gateway's read paths of this build side by side with another
 * build's (`--base <dir with dist/server.js>`, e.g. main's, built into a git worktree or archive).
 * This build's Pinery stores an N MiB file (POST /content: CIDv1, 256 KiB raw leaves, the DAG
 * bench:serve fetches); its data dir is copied for the other build, and both run at once. Per run,
 * interleaved, for each build: its block files read from disk (as bench:serve: readFile, 16 at
 * once, listed off the clock, page cache warm), then GET /ipfs/<cid>?format=car and GET
 * /ipfs/<cid> (the file's bytes), each read by curl into /dev/null, the server's CPU from /proc.
 *
 *   npm run bench:gateway -- --base /tmp/main [--mib 256] [--runs 3]
 */
import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess, type ServerProcess } from '../../test/fixtures/process.js'
import { serverEnv, cpuSeconds, curlBytes, listFiles, median, MiB, readAll, table } from './lib.js'

const { values } = parseArgs({
  options: { base: { type: 'string' }, mib: { type: 'string', default: '256' }, runs: { type: 'string', default: '3' } }
})
if (values.base == null) throw new Error('--base <dir of the other build> is required')
const n = Number(values.mib)
const runs = Number(values.runs)
const TOKEN = 'pinery_bench-token'
const auth = `Bearer ${TOKEN}`

const dirs = { base: await mkdtemp(join(tmpdir(), 'pinery-compare-base-')), this: '' }
const env = (dir: string): Record<string, string> => ({ ...serverEnv(dir, TOKEN), PINERY_GATEWAY_AUTH: 'token' })
const servers: Partial<Record<'base' | 'this', ServerProcess>> = {}
const series: Record<string, number[]> = {}
const push = (key: string, value: number): void => { (series[key] ??= []).push(value) }
try {
  dirs.this = await mkdtemp(join(tmpdir(), 'pinery-compare-this-'))
  const first = await startServerProcess(env(dirs.this))
  const res = await fetch(`${first.url}/content?name=bench`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/octet-stream' },
    body: randomBytes(n * MiB)
  })
  const { pin } = await res.json() as { pin: { cid: string } }
  await first.stop()
  await cp(dirs.this, dirs.base, { recursive: true })
  servers.base = await startServerProcess(env(dirs.base), join(values.base, 'dist/server.js'))
  servers.this = await startServerProcess(env(dirs.this))
  for (let i = 0; i < runs; i++) {
    for (const which of ['base', 'this'] as const) {
      const server = servers[which] as ServerProcess
      const pid = server.child.pid as number
      const files = await listFiles(join(dirs[which], 'blocks'))
      let t0 = performance.now()
      const diskBytes = await readAll(files)
      push(`${which} disk MiB/s`, diskBytes / MiB / ((performance.now() - t0) / 1000))
      for (const [kind, query] of [['CAR', '?format=car'], ['file', '']] as const) {
        const c0 = await cpuSeconds(pid)
        t0 = performance.now()
        const bytes = await curlBytes(`${server.url}/ipfs/${pin.cid}${query}`, auth)
        push(`${which} ${kind} MiB/s`, bytes / MiB / ((performance.now() - t0) / 1000))
        push(`${which} ${kind} CPU-s/GiB`, (await cpuSeconds(pid) - c0) / (bytes / 1024 / MiB))
      }
    }
    process.stderr.write(`run ${i + 1} of ${runs} done\n`)
  }
  const row = (key: string): string[] => [key, median(series[key] as number[]).toFixed(2),
    (series[key] as number[]).map(x => x.toFixed(2)).join(' / ')]
  process.stdout.write(`\ngateway-compare — ${n} MiB file, medians of ${runs} runs; base ${values.base}\n\n` +
    table(['measure', 'median', 'runs'], Object.keys(series).map(row)) + '\n')
} finally {
  await servers.base?.stop()
  await servers.this?.stop()
  for (const dir of Object.values(dirs)) if (dir !== '') await rm(dir, { recursive: true, force: true })
}
