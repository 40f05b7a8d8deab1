/**
 * GET /health: one check each for the datastore (a write/read/delete round
 * trip), the blockstore (a probe file, and free disk above a threshold),
 * libp2p (listening) and the pin queue (depth and active, for information).
 * Every check is bounded in time, so the answer stays fast under load. The
 * storage checks write to disk, and /health needs no token: their result is
 * reused for a few seconds, and concurrent requests share one run, so a
 * flood of /health requests costs at most one write round per window.
 */
import { randomBytes } from 'node:crypto'
import { statfs, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import type { Libp2p } from '@libp2p/interface'
import type { HealthProbeMetrics } from './metrics.js'

/** One check's outcome. */
export interface CheckResult {
  ok: boolean
  [detail: string]: unknown
}

/** The whole answer. */
export interface HealthReport {
  status: 'ok' | 'failing'
  failing: string[]
  version: string
  commit: string
  peerId: string
  uptimeSeconds: number
  checks: Record<string, CheckResult>
}

/** Settings of the checks. */
export interface HealthInit {
  version: string
  commit: string
  /** The blockstore check fails below this much free disk. */
  minFreeBytes: number
  /** Each check fails if it takes longer. */
  timeoutMs?: number
  /** How long the storage checks' result is reused (default 2000 ms). */
  cacheMs?: number
}

/** What the checks look at. */
export interface HealthComponents {
  datastore: Pick<Datastore, 'put' | 'get' | 'delete'>
  blocksDir: string
  libp2p: Pick<Libp2p, 'status' | 'getMultiaddrs' | 'peerId' | 'getConnections'>
  /** The addresses handed out as delegates (shown on the web app's node page). */
  delegates(): string[]
  queue(): { depth: number, active: number }
  startedAt: number
  /** Told each round of storage checks (a datastore write and a blockstore probe file). */
  metrics?: HealthProbeMetrics
}

/** Runs every check. */
export type HealthCheck = () => Promise<HealthReport>

async function bounded (ms: number, fn: () => Promise<CheckResult>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<CheckResult>(resolve => {
    timer = setTimeout(() => { resolve({ ok: false, error: `no answer within ${ms} ms` }) }, ms)
  })
  try {
    return await Promise.race([fn().catch((err: unknown) => ({ ok: false, error: (err as Error).message })), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Creates the health check. */
export function createHealthCheck (init: HealthInit, components: HealthComponents): HealthCheck {
  const timeoutMs = init.timeoutMs ?? 2000
  const cacheMs = init.cacheMs ?? 2000
  const storage: Record<string, () => Promise<CheckResult>> = {
    async datastore () {
      const key = new Key(`/pinery/health/${randomBytes(8).toString('hex')}`)
      const value = randomBytes(16)
      await components.datastore.put(key, value)
      const back = await components.datastore.get(key)
      await components.datastore.delete(key)
      return Buffer.from(back).equals(value) ? { ok: true } : { ok: false, error: 'read back different bytes' }
    },
    async blockstore () {
      const probe = join(components.blocksDir, `.health-${randomBytes(6).toString('hex')}`)
      await writeFile(probe, 'ok')
      await unlink(probe)
      const fs = await statfs(components.blocksDir)
      const freeBytes = fs.bavail * fs.bsize
      return freeBytes >= init.minFreeBytes
        ? { ok: true, freeBytes }
        : { ok: false, freeBytes, error: `free disk ${freeBytes} bytes is below ${init.minFreeBytes}` }
    }
  }
  const live: Record<string, () => Promise<CheckResult>> = {
    async libp2p () {
      const listening = components.libp2p.getMultiaddrs().map(String)
      const ok = components.libp2p.status === 'started' && listening.length > 0
      const about = {
        listening, delegates: components.delegates(), connections: components.libp2p.getConnections().length
      }
      if (ok) return { ok, ...about }
      return { ok, ...about, error: `libp2p is ${components.libp2p.status} with ${listening.length} addresses` }
    },
    async queue () {
      return { ok: true, ...components.queue() }
    }
  }

  const runAll = async (
    checks: Record<string, () => Promise<CheckResult>>
  ): Promise<Array<readonly [string, CheckResult]>> =>
    await Promise.all(Object.entries(checks).map(async ([name, fn]) => [name, await bounded(timeoutMs, fn)] as const))
  let cached: { at: number, entries: Array<readonly [string, CheckResult]> } | undefined
  let running: Promise<Array<readonly [string, CheckResult]>> | undefined
  async function storageChecks (): Promise<Array<readonly [string, CheckResult]>> {
    if (cached != null && Date.now() - cached.at < cacheMs) return cached.entries
    running ??= (async () => {
      try {
        components.metrics?.healthProbed()
        const entries = await runAll(storage)
        cached = { at: Date.now(), entries }
        return entries
      } finally {
        running = undefined
      }
    })()
    return await running
  }

  return async () => {
    const [stored, now] = await Promise.all([storageChecks(), runAll(live)])
    const entries = [...stored, ...now]
    const results = Object.fromEntries(entries)
    const failing = entries.filter(([, r]) => !r.ok).map(([name]) => name)
    return {
      status: failing.length === 0 ? 'ok' : 'failing',
      failing,
      version: init.version,
      commit: init.commit,
      peerId: components.libp2p.peerId.toString(),
      uptimeSeconds: Math.round((Date.now() - components.startedAt) / 1000),
      checks: results
    }
  }
}
