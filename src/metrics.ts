/**
 * Prometheus metrics (prom-client). Each service has its own registry, so
 * several services in one process (tests) never share counters. Gauges that
 * describe current state are read when scraped; counters are bumped by the
 * parts that do the work, through the narrow interfaces below.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { PinState } from './pins/types.js'

/** What the worker reports. */
export interface PinMetrics {
  pinStarted(): void
  pinFinished(outcome: 'pinned' | 'failed', seconds: number): void
  blockFetched(bytes: number): void
}

/** What the garbage collector reports. */
export interface GcMetrics {
  gcRan(blocksDeleted: number, bytesFreed: number): void
}

/** What the HTTP layer reports. */
export interface HttpMetrics {
  httpRequest(route: string, method: string, status: number, seconds: number): void
}

/** What GET /health reports. */
export interface HealthProbeMetrics {
  healthProbed(): void
}

/** Current state, read at scrape time. */
export interface MetricsSources {
  pinsByStatus(): Record<PinState, number>
  queue(): { depth: number, active: number }
  connections(): number
}

/** The service's metrics. */
export interface Metrics extends PinMetrics, GcMetrics, HttpMetrics, HealthProbeMetrics {
  registry: Registry
  /** Connects the state gauges to their sources (once the parts exist). */
  observe(sources: MetricsSources): void
}

/** Creates a registry with every Pinery metric and Node's process metrics. */
export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'pinery_' })
  let sources: MetricsSources | undefined

  const registers = [registry]
  const httpRequests = new Counter({
    name: 'pinery_http_requests_total', help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'], registers
  })
  const httpDuration = new Histogram({
    name: 'pinery_http_request_duration_seconds', help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers
  })
  const started = new Counter({ name: 'pinery_pins_started_total', help: 'Pin fetches started', registers })
  const finished = new Counter({
    name: 'pinery_pins_finished_total', help: 'Pin fetches finished, by outcome', labelNames: ['outcome'], registers
  })
  const duration = new Histogram({
    name: 'pinery_pin_duration_seconds', help: 'Time from a fetch starting to its request settling',
    labelNames: ['outcome'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800], registers
  })
  const bytes = new Counter({
    name: 'pinery_fetched_bytes_total', help: 'Block bytes fetched while pinning', registers
  })
  const blocks = new Counter({ name: 'pinery_fetched_blocks_total', help: 'Blocks fetched while pinning', registers })
  const gcRuns = new Counter({ name: 'pinery_gc_runs_total', help: 'Garbage collection sweeps', registers })
  const gcDeleted = new Counter({
    name: 'pinery_gc_deleted_blocks_total', help: 'Blocks deleted by garbage collection', registers
  })
  const healthProbes = new Counter({
    name: 'pinery_health_probes_total',
    help: 'Rounds of storage checks GET /health ran (each writes to the datastore and the blockstore)',
    registers
  })
  const gcFreed = new Counter({
    name: 'pinery_gc_freed_bytes_total', help: 'Bytes of blocks deleted by garbage collection', registers
  })
  new Gauge({
    name: 'pinery_pins', help: 'Pin requests by status', labelNames: ['status'], registers,
    collect () {
      if (sources == null) return
      for (const [status, n] of Object.entries(sources.pinsByStatus())) this.set({ status }, n)
    }
  })
  new Gauge({
    name: 'pinery_pin_queue_depth', help: 'Requests waiting for a worker', registers,
    collect () { if (sources != null) this.set(sources.queue().depth) }
  })
  new Gauge({
    name: 'pinery_pin_active', help: 'Requests being fetched', registers,
    collect () { if (sources != null) this.set(sources.queue().active) }
  })
  new Gauge({
    name: 'pinery_libp2p_connections', help: 'Open libp2p connections', registers,
    collect () { if (sources != null) this.set(sources.connections()) }
  })

  return {
    registry,
    observe (s) { sources = s },
    httpRequest (route, method, status, seconds) {
      httpRequests.inc({ route, method, status: String(status) })
      httpDuration.observe({ route, method }, seconds)
    },
    pinStarted () { started.inc() },
    pinFinished (outcome, seconds) {
      finished.inc({ outcome })
      duration.observe({ outcome }, seconds)
    },
    blockFetched (size) {
      bytes.inc(size)
      blocks.inc()
    },
    healthProbed () { healthProbes.inc() },
    gcRan (deleted, freed) {
      gcRuns.inc()
      gcDeleted.inc(deleted)
      gcFreed.inc(freed)
    }
  }
}
