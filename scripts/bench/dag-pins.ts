/**
 * bench:dag-pins: pins that share blocks, straight through the pin layer (no
 * network, no HTTP): `roots` DAGs each of one own root block plus the same
 * `blocks` shared blocks (a site built again and again with unchanged files),
 * added one after another and then removed, on a real LevelDB in a temp dir.
 * Each build runs in its own child process, builds interleaved, medians of
 * --runs; a child that passes --timeout seconds is killed and shown as `>N`.
 * `--migrate-from <dist>` instead pins with that (format 2) build and times this build's start-up
 * migration of the result, then unpins everything with this build to check the counts.
 *
 *   npm run bench:dag-pins -- --builds main=/work/wt/base/dist,new=dist --runs 3 --cases 100x2000,200x10000
 *   npm run bench:dag-pins -- --migrate-from /work/wt/base/dist --roots 100 --blocks 2000
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { cpuSeconds, median, mib, peakRss, table } from './lib.js'

interface Result { add: number, rm: number, cpu: number, rss: number }

async function cid (code: number, text: string): Promise<CID> {
  return CID.createV1(code, await sha256.digest(new TextEncoder().encode(text)))
}

/** Pins with the format-2 build `from`, then times the migration by `dist` and unpins with it. */
async function migrate (from: string, dist: string, roots: number, blocks: number): Promise<void> {
  const load = async <T>(d: string, path: string): Promise<T> => await import(pathToFileURL(join(d, path)).href) as T
  type Storage = typeof import('../../src/node/storage.js')
  type Pins = typeof import('../../src/pins/dag-pins.js')
  const old = {
    storage: await load<Storage>(from, 'node/storage.js'),
    pins: await load<Pins>(from, 'pins/dag-pins.js')
  }
  const { openDatastore } = await load<Storage>(dist, 'node/storage.js')
  const { createDagPins } = await load<Pins>(dist, 'pins/dag-pins.js')
  const { migrateDatastore } = await load<typeof import('../../src/node/datastore-format.js')>(
    dist, 'node/datastore-format.js')
  const { createLogger } = await load<typeof import('../../src/logger.js')>(dist, 'logger.js')
  const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-dag-pins-'))
  try {
    const shared = await Promise.all(Array.from({ length: blocks }, async (_, i) => await cid(raw.code, `shared ${i}`)))
    const dags = await Promise.all(Array.from({ length: roots }, async (_, i) => {
      const root = await cid(dagPb.code, `root ${i}`)
      return { root, blocks: [root, ...shared] }
    }))
    let datastore = await old.storage.openDatastore(dir)
    await datastore.db.put('/pinery/format', new TextEncoder().encode('2'))
    const before = await old.pins.createDagPins({ datastore })
    for (const d of dags) await before.add(d.root, d.blocks, 1)
    await datastore.close()
    datastore = await openDatastore(dir)
    const cpu0 = await cpuSeconds()
    const t = performance.now()
    await migrateDatastore({ datastore, logger: createLogger({ level: 'silent' }) })
    const seconds = (performance.now() - t) / 1000
    const cpu = await cpuSeconds() - cpu0
    const pins = await createDagPins({ datastore })
    for (const d of dags.slice(1)) await pins.rm(d.root, d.blocks)
    if (!await pins.isPinned(shared[0] as CID)) throw new Error('the last root lost its blocks')
    await pins.rm(dags[0]!.root, dags[0]!.blocks)
    if (await pins.isPinned(shared[0] as CID)) throw new Error('a shared block is still pinned after every rm')
    await datastore.close()
    console.log(JSON.stringify({ roots, blocks, refs: roots * blocks, migrateSeconds: seconds, migrateCpu: cpu }))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** One run of one build: prints a JSON {@link Result}. */
async function child (dist: string, roots: number, blocks: number): Promise<void> {
  const { openDatastore } = await import(pathToFileURL(join(dist, 'node/storage.js')).href) as
    typeof import('../../src/node/storage.js')
  const { createDagPins } = await import(pathToFileURL(join(dist, 'pins/dag-pins.js')).href) as
    typeof import('../../src/pins/dag-pins.js')
  const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-dag-pins-'))
  try {
    const datastore = await openDatastore(dir)
    const pins = await createDagPins({ datastore })
    const shared = await Promise.all(Array.from({ length: blocks }, async (_, i) => await cid(raw.code, `shared ${i}`)))
    const dags = await Promise.all(Array.from({ length: roots }, async (_, i) => {
      const root = await cid(dagPb.code, `root ${i}`)
      return { root, blocks: [root, ...shared] }
    }))
    const cpu0 = await cpuSeconds()
    let t = performance.now()
    for (const d of dags) await pins.add(d.root, d.blocks, 1)
    const add = (performance.now() - t) / 1000
    t = performance.now()
    for (const d of dags) await pins.rm(d.root, d.blocks)
    const rmSeconds = (performance.now() - t) / 1000
    if (await pins.isPinned(shared[0] as CID)) throw new Error('a shared block is still pinned after every rm')
    const result: Result = { add, rm: rmSeconds, cpu: await cpuSeconds() - cpu0, rss: await peakRss() }
    await datastore.close()
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function runChild (dist: string, roots: number, blocks: number, timeout: number): Promise<Result | null> {
  const script = fileURLToPath(import.meta.url)
  const args = ['--import', 'tsx', script, '--child', dist, '--roots', String(roots), '--blocks', String(blocks)]
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  proc.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeout * 1000)
  const code = await new Promise<number | null>(resolve => proc.on('close', resolve))
  clearTimeout(timer)
  if (code !== 0) return null
  return JSON.parse(out.trim()) as Result
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      'migrate-from': { type: 'string' },
      dist: { type: 'string', default: 'dist' },
      roots: { type: 'string', default: '100' },
      blocks: { type: 'string', default: '2000' },
      builds: { type: 'string', default: 'new=dist' },
      runs: { type: 'string', default: '3' },
      cases: { type: 'string', default: '100x2000' },
      timeout: { type: 'string', default: '120' }
    }
  })
  if (values['migrate-from'] != null) {
    await migrate(resolve(values['migrate-from']), resolve(values.dist), Number(values.roots), Number(values.blocks))
    return
  }
  if (values.child != null) { await child(values.child, Number(values.roots), Number(values.blocks)); return }
  const builds = values.builds.split(',').map(b => {
    const [name, dist] = b.split('=') as [string, string]
    return { name, dist: resolve(dist) }
  })
  const timeout = Number(values.timeout)
  const rows: Array<Array<string | number>> = []
  for (const c of values.cases.split(',')) {
    const [roots, blocks] = c.split('x').map(Number) as [number, number]
    const results = new Map<string, Array<Result | null>>(builds.map(b => [b.name, []]))
    for (let run = 0; run < Number(values.runs); run++) {
      for (const b of builds) {
        // A build that timed out once is not run again for this case: it only costs the other helpers' CPU.
        if (results.get(b.name)?.includes(null) === true) continue
        results.get(b.name)?.push(await runChild(b.dist, roots, blocks, timeout))
      }
    }
    for (const b of builds) {
      const rs = results.get(b.name) ?? []
      if (rs.includes(null)) { rows.push([c, b.name, `>${timeout}`, '-', '-', '-', rs.length]); continue }
      const ok = rs as Result[]
      const m = (f: (r: Result) => number): string => median(ok.map(f)).toFixed(2)
      rows.push([c, b.name, m(r => r.add), m(r => r.rm), m(r => r.cpu), mib(median(ok.map(r => r.rss))), ok.length])
    }
  }
  console.log(table(['roots x shared blocks', 'build', 'add all s', 'rm all s', 'CPU s', 'peak RSS MiB', 'runs'], rows))
}

await main()
