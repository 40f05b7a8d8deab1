/**
 * Helia's and libp2p's own log lines go into Pinery's pino log at debug
 * level (errors too), and nothing of theirs appears at info.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createComponentLogger, formatLogArgs } from '../../src/node/component-logger.js'
import { startOrigin } from '../fixtures/origin.js'
import { startService, waitFor } from '../fixtures/service.js'

type Line = Record<string, unknown> & { level: number, msg?: string, component?: string }

const DEBUG = 20
const fromLibraries = (l: Line): boolean => typeof l.component === 'string' && /^(libp2p|helia)(:|$)/.test(l.component)

/** A logger at `level` whose lines are collected. */
function collecting (level: string): { logger: ReturnType<typeof createLogger>, lines: Line[] } {
  const lines: Line[] = []
  const destination = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line)
      done()
    }
  })
  return { logger: createLogger({ level, destination }), lines }
}

describe('the component logger of Helia and libp2p', () => {
  it('puts their lines into the service log at debug level', async () => {
    const logs: string[] = []
    // Stock @helia/bitswap: its own log lines are what this looks for (the lean one logs through Pinery's logger).
    const service = await startService({ logs, env: { PINERY_BITSWAP: 'helia' } })
    const origin = await startOrigin()
    try {
      const cid = await origin.addFile(randomBytes(1000))
      const { requestid } = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: origin.addrs } })
      await waitFor(async () =>
        (await service.client().pinsRequestidGet({ requestid })).status === 'pinned' ? true : undefined)
      const lines = logs.map(l => JSON.parse(l) as Line).filter(fromLibraries)
      expect(lines.some(l => l.component?.startsWith('libp2p') === true)).toBe(true)
      // Bitswap (built by Helia) talked to the origin, and said so with the peer formatted (%p).
      const originId = origin.node.peerId
      expect(lines.some(l => l.component?.startsWith('helia:bitswap') === true && l.msg?.includes(originId) === true))
        .toBe(true)
      for (const l of lines) {
        expect(l.level).toBe(DEBUG)
        expect(typeof l.msg).toBe('string')
      }
    } finally {
      await origin.stop()
      await service.destroy()
    }
  })

  it('writes nothing of theirs at info level', async () => {
    const logs: string[] = []
    const service = await startService({ logs, logLevel: 'info' })
    try {
      // The service did log at info (it is ready), just none of the libraries' lines.
      expect(logs.length).toBeGreaterThan(0)
      expect(logs.map(l => JSON.parse(l) as Line).filter(fromLibraries)).toEqual([])
    } finally {
      await service.destroy()
    }
  })

  it('logs errors at debug, trace at trace, and is disabled above debug', () => {
    const debug = collecting('debug')
    const log = createComponentLogger(debug.logger).forComponent('libp2p:test').newScope('sub')
    expect(log.enabled).toBe(true)
    log('plain %s', 'text')
    log.error('went wrong: %e', new Error('boom'))
    log.trace('hidden at debug')
    expect(debug.lines.map(l => [l.level, l.component, l.msg?.split('\n')[0]])).toEqual([
      [DEBUG, 'libp2p:test:sub', 'plain text'],
      [DEBUG, 'libp2p:test:sub', 'went wrong: Error: boom']
    ])

    const info = collecting('info')
    const quiet = createComponentLogger(info.logger).forComponent('libp2p:test')
    expect(quiet.enabled).toBe(false)
    quiet('nothing'); quiet.error('nothing either')
    expect(info.lines).toEqual([])
  })

  it("formats libp2p's directives before the standard ones", () => {
    const cid = CID.parse('bafkqaaa')
    expect(formatLogArgs('%c has %d%% of %s, bytes %b', [cid, 50, 'it', Uint8Array.from([0, 1])]))
      .toBe('bafkqaaa has 50% of it, bytes 12')
    expect(formatLogArgs('a %p with 100%', [{ toString: () => '12D3%s' }])).toBe('a 12D3%s with 100%')
  })
})
