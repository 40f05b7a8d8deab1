/**
 * Configuration from the environment: one table (config-settings.ts) defines
 * each variable, its default, its description and its parser, so `--help` and
 * validation cannot drift apart.
 */
import { SETTINGS, type Setting } from './config-settings.js'
import { ConfigError } from './errors.js'
import type { DialAllow } from './node/dial-gate.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Fully parsed service configuration. */
export interface Config {
  dataDir: string
  httpHost: string
  httpPort: number
  listen: Multiaddr[]
  announce: Multiaddr[]
  dialAllow: DialAllow
  adminToken?: string
  keyPassword?: string
  pinConcurrency: number
  maxPendingPerUser: number
  maxMetaBytesPerUser: number
  stallTimeoutMs: number
  gcIntervalMs: number
  fetchConcurrency: number
  rewantAfterMs: number
  wantlistDebounceMs: number
  bitswap: 'lean' | 'helia'
  maxBodyBytes: number
  maxUploadBlocks: number
  logLevel: string
  minFreeBytes: number
  metricsToken?: string
  gatewayAuth: 'token' | 'none'
  rateLimitPerSecond: number
  rateLimitBurst: number
  maxTokensPerUser: number
  corsOrigins: string[]
  allowedHosts: string[]
  requestTimeoutMs: number
  maxHttpConnections: number
  maxHttpConnectionsPerAddress: number
  trustedProxies: string[]
  maxPeerConnections: number
  inboundConnectionsPerSecond: number
  shutdownTimeoutMs: number
  eventLogMaxEvents: number
  eventLogMaxAgeMs: number
  eventHeartbeatMs: number
  eventStreamBufferBytes: number
  webhookAllow: string[]
  webhookTimeoutMs: number
  webhookRetryMinMs: number
  webhookRetryMaxMs: number
  webhookDisableAfterMs: number
}

/**
 * Reads the configuration from `env`, applying defaults. Throws a
 * `ConfigError` with a one-line message naming the variable on a bad value.
 */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const out: Partial<Record<keyof Config, unknown>> = {}
  for (const s of SETTINGS) {
    const raw = env[s.env] ?? s.default
    try {
      out[s.key] = s.parse(raw)
    } catch (err) {
      // A secret's value is never shown, not even a rejected one: it may be the real one mistyped.
      const shown = s.secret === true ? ' (value not shown)' : `=${JSON.stringify(raw)}`
      throw new ConfigError(`${s.env}${shown}: ${(err as Error).message}`)
    }
  }
  return out as Config
}

/** Every setting's variable name and default, in `--help` order. */
export function configSettings (): Array<{ env: string, default: string }> {
  return SETTINGS.map(s => ({ env: s.env, default: s.default }))
}

/** The `--help` text: every variable with its default and meaning. */
export function configHelp (): string {
  const width = Math.max(...SETTINGS.map(s => s.env.length))
  const dflt = (s: Setting<keyof Config>): string => s.default === '' ? '' : ` (default: ${s.default})`
  const lines = SETTINGS.map(s => `  ${s.env.padEnd(width)}  ${s.description}${dflt(s)}`)
  return ['Usage: node dist/server.js', '', 'Pinery is configured through the environment:', ...lines, ''].join('\n')
}
