/**
 * How long the block store's start takes to make an earlier process's writes durable (src/node/start-sync.ts),
 * on a store of `--blocks` block files, where syncfs is not to be had (PATH without perl and with a `sync` that
 * fails: the walk that fsyncs every file) and where it is. Each start is a process of its own opening the
 * store of one build (`--baseline label=/path/to/dist`, the branch's own dist beside it), timed around open();
 * "clean" starts follow a close by that build, "killed" ones a process killed after opening.
 * Run: node --import tsx scripts/bench/start-sync.ts --blocks 100000 --baseline main=/work/wt/base/dist
 * (`--branch` names the branch's dist: a copy, so that a build meanwhile does not change what is measured).
 */
import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { manyBlock, median, table } from './lib.js'
import type { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'

type Store = Pick<DurableFsBlockstore, 'open' | 'close' | 'put' | 'sync'>
const load = async (dist: string): Promise<new (path: string) => Store> =>
  (await import(join(resolve(dist), 'node/durable-blockstore.js'))).DurableFsBlockstore

const [mode, dist, blocks] = process.argv.slice(2)
if (mode === 'open' || mode === 'kill' || mode === 'close') {
  // A child: opens the store, says how long that took, then closes it ("open", "close") or waits to be killed.
  const store = new (await load(dist as string))(blocks as string)
  const cpu = process.cpuUsage()
  const t = performance.now()
  await store.open()
  const ms = performance.now() - t
  const used = process.cpuUsage(cpu)
  process.stdout.write(JSON.stringify({ ms, cpu: (used.user + used.system) / 1e6 }) + '\n')
  if (mode === 'kill') { setInterval(() => {}, 60_000); await new Promise(() => {}) }
  await store.close()
  process.exit(0)
}

const { values } = parseArgs({ options: {
  blocks: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' },
  baseline: { type: 'string', multiple: true, default: [] }, branch: { type: 'string', default: 'dist' }
} })
const builds: Array<[string, string]> = [...values.baseline.map(b => b.split('=') as [string, string]),
  ['branch', values.branch]]
const dir = await mkdtemp(join(tmpdir(), 'pinery-start-sync-'))
const store = join(dir, 'blocks')
const bin = join(dir, 'bin')
await mkdir(bin)
await symlink('/bin/sh', join(bin, 'sh'))
await writeFile(join(bin, 'sync'), '#!/bin/sh\nexit 1\n')
await chmod(join(bin, 'sync'), 0o755)

/** One child of `build` in `mode`; resolves with what it said (killed first, for "kill"). */
async function child (build: string, m: string, syncfs: boolean): Promise<{ ms: number, cpu: number }> {
  const env = { ...process.env, PATH: syncfs ? process.env.PATH ?? '' : bin }
  const c = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/start-sync.ts', m, build, store],
    { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>(res => { c.stdout.once('data', (d: Buffer) => { res(d.toString()) }) })
  if (m === 'kill') c.kill('SIGKILL')
  await new Promise(res => c.once('exit', res))
  return JSON.parse(line) as { ms: number, cpu: number }
}

const Branch = await load(values.branch)
const filling = new Branch(store)
await filling.open()
const n = Number(values.blocks)
const t0 = performance.now()
for (let i = 0; i < n; i += 256) {
  await Promise.all(Array.from({ length: Math.min(256, n - i) }, async (_, j) => {
    const { cid, bytes } = await manyBlock(i + j)
    await filling.put(cid, bytes)
  }))
}
await filling.sync()
await filling.close()
console.log(`filled ${n} blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

const results = new Map<string, Array<{ ms: number, cpu: number, load: number }>>()
const note = (key: string, r: { ms: number, cpu: number }): void => {
  results.set(key, [...results.get(key) ?? [], { ...r, load: loadavg()[0] as number }])
}
for (let run = 0; run < Number(values.runs); run++) {
  for (const [label, build] of builds) {
    for (const syncfs of [false, true]) {
      const how = syncfs ? 'syncfs' : 'no syncfs'
      // The build's own clean stop first (a process of it opened and closed), then the start measured.
      await child(build, 'close', syncfs)
      note(`${label}\t${how}\tafter a clean stop`, await child(build, 'close', syncfs))
      await child(build, 'kill', syncfs)
      note(`${label}\t${how}\tafter a kill`, await child(build, 'close', syncfs))
    }
  }
}
const rows = [...results].map(([key, rs]) => [...key.split('\t'), median(rs.map(r => r.ms)).toFixed(0),
  rs.map(r => r.ms.toFixed(0)).join(' / '), median(rs.map(r => r.cpu)).toFixed(2),
  rs.map(r => r.load.toFixed(1)).join(' / ')])
console.log(table(['build', 'where', 'start', 'open ms (median)', 'each run', 'CPU-s (median)', 'load'], rows))
await rm(dir, { recursive: true, force: true })
