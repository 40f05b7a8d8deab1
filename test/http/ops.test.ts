/**
 * Operator routes: GET /health (no token) and GET /metrics (Prometheus).
 */
import { watch } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

describe('GET /health', () => {
  let service: TestService
  beforeAll(async () => { service = await startService() })
  afterAll(async () => { await service.destroy() })

  it('answers 200 without a token, with every check passing', async () => {
    const res = await service.request('/health', { user: null })
    expect(res.status).toBe(200)
    const body = await res.json() as Record<string, any>
    expect(body).toMatchObject({ status: 'ok', failing: [], peerId: service.pinery.node.peerId, version: '0.1.0' })
    expect(body.commit).toMatch(/^([0-9a-f]{40}|unknown)$/)
    expect(Object.keys(body.checks).sort()).toEqual(['blockstore', 'datastore', 'libp2p', 'queue'])
    for (const check of Object.values(body.checks)) expect((check as { ok: boolean }).ok).toBe(true)
    expect(body.checks.blockstore.freeBytes).toBeGreaterThan(0)
    expect(body.checks.queue).toMatchObject({ depth: 0, active: 0 })
  })

  it('a flood of /health requests writes to disk at most once per few seconds', async () => {
    const other = await startService()
    // What the blockstore check writes: a probe file in the blocks dir, seen by inotify.
    const probes = new Set<string>()
    const watcher = watch(join(other.dataDir, 'blocks'), (_event, file) => {
      if (file?.startsWith('.health-') === true) probes.add(file)
    })
    try {
      const started = Date.now()
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(Array.from({ length: 20 },
          async () => await other.request('/health', { user: null })))
        for (const res of answers) expect(res.status).toBe(200)
      }
      expect(Date.now() - started).toBeLessThan(2000) // all within one window
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(probes.size).toBe(1)
      const metrics = await (await other.request('/metrics', { user: null })).text()
      expect(metrics).toMatch(/^pinery_health_probes_total 1$/m)
      // A later window checks again: a failing disk is still noticed within seconds.
      await new Promise(resolve => setTimeout(resolve, 2100))
      expect((await other.request('/health', { user: null })).status).toBe(200)
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(probes.size).toBe(2)
    } finally {
      watcher.close()
      await other.destroy()
    }
  })

  it('answers 503 naming libp2p when the node stops listening', async () => {
    const other = await startService()
    try {
      await other.pinery.node.libp2p.stop()
      const res = await other.request('/health', { user: null })
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ status: 'failing', failing: ['libp2p'] })
    } finally {
      await other.destroy()
    }
  })

  it('answers 503 naming the blockstore when free disk is below the threshold', async () => {
    const other = await startService({ env: { PINERY_MIN_FREE_BYTES: String(Number.MAX_SAFE_INTEGER) } })
    try {
      const res = await other.request('/health', { user: null })
      expect(res.status).toBe(503)
      const body = await res.json() as Record<string, any>
      expect(body.failing).toEqual(['blockstore'])
      expect(body.checks.blockstore.error).toMatch(/below/)
    } finally {
      await other.destroy()
    }
  })
})

describe('GET /metrics', () => {
  let service: TestService
  beforeAll(async () => { service = await startService({ env: { PINERY_STALL_TIMEOUT_MS: '300' } }) })
  afterAll(async () => { await service.destroy() })

  const value = (text: string, series: string): number | undefined => {
    const line = text.split('\n').find(l => l.startsWith(`${series} `))
    return line == null ? undefined : Number(line.slice(series.length + 1))
  }

  it('counts requests by route pattern, pins by status, and worker outcomes', async () => {
    await service.client().pinsPost({ pin: { cid: 'bafkqaaa' } })
    // Nobody has this block: the worker starts it and it fails on the stall timeout.
    const failing = await service.client()
      .pinsPost({ pin: { cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' } })
    await waitFor(async () => {
      const pin = await service.client().pinsRequestidGet({ requestid: failing.requestid })
      return pin.status === 'failed' ? true : undefined
    })
    await service.client().pinsRequestidGet({ requestid: failing.requestid })

    const res = await service.request('/metrics', { user: null })
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(value(text, 'pinery_http_requests_total{route="/pins",method="POST",status="202"}')).toBe(2)
    expect(value(text, 'pinery_http_requests_total{route="/pins/:requestid",method="GET",status="200"}'))
      .toBeGreaterThanOrEqual(2)
    expect(value(text, 'pinery_pins{status="pinned"}')).toBe(1)
    expect(value(text, 'pinery_pins{status="failed"}')).toBe(1)
    expect(value(text, 'pinery_pins_started_total')).toBe(1)
    expect(value(text, 'pinery_pins_finished_total{outcome="failed"}')).toBe(1)
    expect(value(text, 'pinery_pin_queue_depth')).toBe(0)
    expect(text).toContain('pinery_http_request_duration_seconds_bucket')
    expect(text).toContain('pinery_process_cpu_user_seconds_total')
    expect(text).not.toMatch(/route="\/pins\/[0-9a-f-]{36}"/)
  })

  it('needs the metrics token when one is configured', async () => {
    const other = await startService({ env: { PINERY_METRICS_TOKEN: 'scrape-secret-123' } })
    try {
      expect((await other.request('/metrics', { user: null })).status).toBe(401)
      expect((await other.request('/metrics', { user: 'wrong-secret-1234' })).status).toBe(401)
      const ok = await other.request('/metrics', { headers: { authorization: 'Bearer scrape-secret-123' }, user: null })
      expect(ok.status).toBe(200)
      expect(await ok.text()).toContain('pinery_pins')
    } finally {
      await other.destroy()
    }
  })
})
