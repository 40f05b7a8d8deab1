/**
 * The `pinery` CLI (dist/cli.js in a child process) against a broken or hostile server at PINERY_URL, a
 * real HTTP server on 127.0.0.1: what it answers reaches the operator's terminal escaped (an OSC 52
 * sequence writes their clipboard, `ESC [2J` clears the screen, 0x9b is a CSI in some terminals), and an
 * answer without end is refused instead of read into memory until the timeout.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CLI, run } from './fixtures/process.js'

const EVIL = '\u001b]52;c;cm0gLXJmIH4=\u0007\u001b[2J\u009b31m\u202e'
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/

function answer (res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

describe('pinery CLI against a hostile server', () => {
  let server: Server
  let url: string
  beforeEach(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? ''
      if (path === '/webhooks') {
        answer(res, {
          results: [{
            id: `h${EVIL}`, url: `http://x/${EVIL}`, events: [`pin.pinned${EVIL}`], description: EVIL, all: false,
            enabled: false, disabled_reason: EVIL, pending: EVIL
          }]
        })
      } else if (path === '/webhooks/h1/deliveries') {
        answer(res, { results: [{ time: EVIL, event_id: EVIL, status_code: EVIL, latency_ms: EVIL, error: EVIL }] })
      } else if (path === '/webhooks/h1/test' || path === '/webhooks/h1') {
        answer(res, { ok: false, id: EVIL, event_id: EVIL, error: EVIL, enabled: false, disabled_reason: EVIL })
      } else if (path === '/usage') {
        answer(res, { user: EVIL, pins: { queued: EVIL, pinning: 0, pinned: 0, failed: 0 }, bytes: EVIL, cids: EVIL,
          limits: { bytes: EVIL } })
      } else if (path === '/users') {
        // Without end, as fast as the CLI reads.
        res.writeHead(200, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(1024 * 1024, 0x20)
        const more = (): void => { while (!res.destroyed && res.write(chunk)); }
        res.on('drain', more)
        res.write('{"results":')
        more()
      } else if (path.startsWith('/events?')) {
        // An event stream whose event has no PinStatus; `silent` below never answers its reads.
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(': open\n\n')
        const odd = `id: 1\nevent: pin.pinned\ndata: {"type":"pin.pinned${EVIL}"}\n\n`
        if (path.includes('requestid=odd')) res.write(odd)
      } else if (path === '/pins/odd') {
        answer(res, { requestid: 'odd', status: 'queued', info: {} })
      } else if (path === '/pins/silent') {
        // Never answers.
      } else {
        res.writeHead(404).end()
      }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address == null || typeof address === 'string') throw new Error('no port')
    url = `http://127.0.0.1:${address.port}`
  })
  afterEach(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })

  const cli = async (...args: string[]): Promise<Awaited<ReturnType<typeof run>>> =>
    await run(CLI, ['--url', url, ...args], { PINERY_TOKEN: 'a-token' }, 20_000)

  it('escapes what the server answered, as text and as JSON', async () => {
    const runs = [
      ['webhook', 'list'], ['webhook', 'deliveries', 'h1'], ['webhook', 'test', 'h1'], ['webhook', 'enable', 'h1'],
      ['usage'], ['--json', 'webhook', 'list'], ['--json', 'webhook', 'deliveries', 'h1'], ['--json', 'usage']
    ]
    for (const args of runs) {
      const r = await cli(...args)
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' })
      expect({ args, raw: CONTROLS.test(r.stdout) }).toEqual({ args, raw: false })
      expect(r.stdout).toMatch(/\\(x1b|u001b)\]52;c;/)
    }
  })

  it('pinery wait: an event without its PinStatus is a bad answer, a silent read ends at --timeout', async () => {
    const odd = await cli('wait', 'odd')
    expect(odd.code).toBe(1)
    expect(odd.stderr).toMatch(/BAD_RESPONSE .*an event without its request/)
    expect(CONTROLS.test(odd.stderr)).toBe(false)
    const started = Date.now()
    const silent = await cli('wait', 'silent', '--timeout', '2')
    expect({ code: silent.code, stdout: silent.stdout }).toEqual({ code: 1, stdout: 'silent still queued after 2 s\n' })
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('refuses an answer without end', async () => {
    const started = Date.now()
    const r = await cli('user', 'list')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/the answer is larger than \d+ bytes/)
    expect(Date.now() - started).toBeLessThan(15_000)
  }, 30_000)
})
