/**
 * kubo in the benchmarks: an origin holding random bytes added the way kubo users add files
 * (`ipfs add --cid-version=1`: raw leaves, 256 KiB chunks, the DAG shape the Helia origin makes),
 * and a fresh receiving kubo per run that pins from it, as a user would instead of Pinery.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { startKubo, type Kubo } from '../../test/fixtures/kubo.js'
import { MiB, cpuSeconds, peakRss } from './lib.js'
import { keepUntilExit } from './pinery-run.js'

/** A kubo origin and the CID of the file it holds. */
export interface KuboOrigin { kubo: Kubo, cid: string }

/** Starts a kubo daemon holding `mib` MiB of random bytes. */
export async function startKuboOrigin (mib: number): Promise<KuboOrigin> {
  const kubo = await startKubo()
  const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-kubo-'))
  try {
    const file = join(dir, 'random.bin')
    const out = createWriteStream(file)
    for (let i = 0; i < mib; i++) if (!out.write(randomBytes(MiB))) await once(out, 'drain')
    out.end()
    await once(out, 'finish')
    const cid = await kubo.ipfs(['add', '-Q', '--cid-version=1', file], 600_000)
    return { kubo, cid }
  } catch (err) {
    await kubo.stop()
    throw err
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * What one receiving run cost: wall time, CPU of the receiving daemon, its peak RSS, and (where
 * measured) its CPU-seconds by thread name.
 */
export interface ReceiverRun { ms: number, cpuS: number, peakRssBytes: number, threads?: Map<string, number> }

/** A fresh kubo daemon connects to `origin` and runs `ipfs pin add cid`; timed from the connect. */
export async function kuboPinRun (cid: string, origin: string): Promise<ReceiverRun> {
  // Its repo (a file per block) stays until the bench exits, as Pinery's data dirs (keepUntilExit).
  const kubo = await startKubo({ keepRepo: true })
  try {
    const pid = kubo.daemon.pid as number
    const cpu0 = await cpuSeconds(pid)
    const started = performance.now()
    await kubo.ipfs(['swarm', 'connect', origin])
    await kubo.ipfs(['pin', 'add', '--progress=false', cid], 900_000)
    const ms = performance.now() - started
    return { ms, cpuS: await cpuSeconds(pid) - cpu0, peakRssBytes: await peakRss(pid) }
  } finally {
    await kubo.stop()
    keepUntilExit(kubo.repo)
  }
}

/** POSTs to a kubo RPC API (`/api/v0/<cmd>?arg=…`); throws on a non-200 answer. */
export async function kuboRpc (kubo: Kubo, cmd: string, params: Record<string, string>): Promise<unknown> {
  const res = await fetch(`${kubo.apiUrl}/api/v0/${cmd}?${new URLSearchParams(params).toString()}`, { method: 'POST' })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`kubo ${cmd} answered ${res.status}: ${text}`)
  return JSON.parse(text) as unknown
}
