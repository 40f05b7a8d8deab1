/**
 * Backup and restore of a large node: fills a service with `--mib` of uploads, then takes online backups
 * (`pinery backup --out FILE` against it: wall time, the service's CPU and its RSS growth while writing) and
 * restores each (`pinery restore FILE`: wall time, CPU, peak RSS) with this build's CLI and with `--base`'s,
 * side by side, medians of `--runs`.
 *
 *   npm run bench:backup -- [--mib 1024] [--runs 3] [--base /work/wt/base-x]
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CLI, serverEnv, startServerProcess } from '../../test/fixtures/process.js'
import { cpuSeconds, MiB } from './lib.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' }, base: { type: 'string' }
  }
})
const TOKEN = 'pinery_bench-backup-admin'
const headers = { authorization: `Bearer ${TOKEN}` }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

async function rss (pid: number): Promise<number> {
  const line = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return Number(line?.[1] ?? 0) * 1024
}

/** Runs the CLI under /usr/bin/time: wall seconds, user+system CPU seconds, peak RSS bytes. */
async function timed (cli: string, args: string[], env: Record<string, string>): Promise<number[]> {
  return await new Promise((resolve, reject) => {
    execFile('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, cli, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, maxBuffer: 64 * MiB }, (err, _stdout, stderr) => {
        const m = /TIME (\S+) (\S+) (\S+) (\d+)/.exec(stderr)
        if (err != null || m == null) { reject(new Error(`${cli} ${args.join(' ')}: ${stderr}`)); return }
        resolve([Number(m[1]), Number(m[2]) + Number(m[3]), Number(m[4]) * 1024])
      })
  })
}

const root = await mkdtemp(join(tmpdir(), 'pinery-bench-backup-'))
const service = await startServerProcess(serverEnv(join(root, 'source'), TOKEN))
const pid = service.child.pid as number
try {
  for (let left = Number(values.mib); left > 0; left -= 256) {
    const body = randomBytes(Math.min(left, 256) * MiB)
    const res = await fetch(`${service.url}/content`, { method: 'POST', headers, body })
    if (!res.ok) throw new Error(`upload: ${res.status}`)
  }
  const backups: Array<{ wall: number, cpu: number, rssGrowth: number, mib: number }> = []
  const restores = new Map<string, number[][]>()
  for (let run = 0; run < Number(values.runs); run++) {
    const file = join(root, `backup-${run}.tar`)
    const rssBefore = await rss(pid)
    let rssPeak = rssBefore
    const sampler = setInterval(() => { rss(pid).then(r => { rssPeak = Math.max(rssPeak, r) }, () => {}) }, 100)
    const cpuBefore = await cpuSeconds(pid)
    const [wall] = await timed(CLI, ['backup', '--out', file], { PINERY_URL: service.url, PINERY_TOKEN: TOKEN })
    clearInterval(sampler)
    backups.push({
      wall: wall as number, cpu: await cpuSeconds(pid) - cpuBefore, rssGrowth: rssPeak - rssBefore,
      mib: (await stat(file)).size / MiB
    })
    const builds: Array<[string, string]> = [['this', CLI]]
    if (values.base != null) builds.push(['base', join(values.base, 'dist', 'cli.js')])
    for (const [name, cli] of run % 2 === 0 ? builds : builds.reverse()) {
      const target = join(root, `restored-${name}-${run}`)
      const measured = await timed(cli, ['restore', file], { PINERY_DATA_DIR: target })
      restores.set(name, [...restores.get(name) ?? [], measured])
      await rm(target, { recursive: true, force: true })
    }
    await rm(file)
  }
  const b = (k: 'wall' | 'cpu' | 'rssGrowth' | 'mib'): number => median(backups.map(x => x[k]))
  console.log(`online backup of ${b('mib').toFixed(0)} MiB: ${b('wall').toFixed(2)} s wall, service CPU ` +
    `${b('cpu').toFixed(2)} s, service RSS +${(b('rssGrowth') / MiB).toFixed(1)} MiB (medians of ${backups.length})`)
  for (const [name, runs] of restores) {
    const m = (i: number): number => median(runs.map(r => r[i] as number))
    console.log(`restore (${name}): ${m(0).toFixed(2)} s wall, ${m(1).toFixed(2)} s CPU, peak RSS ` +
      `${(m(2) / MiB).toFixed(0)} MiB (medians of ${runs.length})`)
  }
} finally {
  await service.stop()
  await rm(root, { recursive: true, force: true })
}
