/**
 * Inbound connections a second are counted per IPv6 /64 (inbound-rate.ts), with real connections from many IPv6
 * addresses: in a network namespace of its own (unshare, as root) whose loopback holds fd15:1::1 for Pinery,
 * 20 addresses of fd15:2::/64, fd15:3::1 and 127.0.0.2–3 (inbound-rate-dialer.ts).
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const PER_GROUP = 20
const addresses = ['fd15:1::1', 'fd15:3::1',
  ...Array.from({ length: PER_GROUP }, (_, i) => `fd15:2::${(i + 1).toString(16)}`)]
const setup = ['ip link set lo up', ...addresses.map(a => `ip -6 addr add ${a}/128 dev lo nodad`)].join(' && ')
// A namespace needs root (or user namespaces), which the suite's machines give (the README's test command
// runs as root): without one the test fails, saying so, rather than skip.
const namespaces = spawnSync('unshare', ['--net', '--', 'sh', '-c', setup], { stdio: 'ignore' }).status === 0

describe('inbound connections a second', () => {
  it('are counted per IPv6 /64 and per IPv4 address', async () => {
    expect(namespaces, 'unshare --net failed: this test needs network namespaces (root)').toBe(true)
    const dialer = fileURLToPath(new URL('./inbound-rate-dialer.ts', import.meta.url))
    const child = spawn('unshare', ['--net', '--', 'sh', '-c',
      `${setup} && exec node --import tsx ${dialer} 5 ${PER_GROUP} 10`], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    await once(child, 'exit')
    const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, number>
    // 200 connections from 20 addresses of one /64, 10 from each, 5 a second allowed: old code counted each
    // address alone and opened 199 of them (in 4.9 s); this opened 8 (in 0.9 s).
    expect(result.attempts).toBe(200)
    expect(result.sameV6Group).toBeGreaterThan(0)
    expect(result.sameV6Group).toBeLessThanOrEqual(Math.min(50, 5 * (1 + (result.seconds ?? 0)) + 2))
    // Another /64 and each IPv4 address have their own counts (5 at once, then 5 a second).
    expect(result.otherV6Group).toBeGreaterThanOrEqual(5)
    expect(result.v4).toBeGreaterThanOrEqual(10)
  })
})
