/**
 * `pinery wait ID…` as a CI job runs it (dist/cli.js in a child process) against a running service: it ends
 * when the pins settle (exit 0 only if every one is pinned), follows a request's replacement, gives up after
 * --timeout, and says what it waits for meanwhile. Real service, real Helia origin.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instantCid, missingCid } from '../fixtures/pins-api.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { CLI, run } from '../fixtures/process.js'
import { startService, type TestService } from '../fixtures/service.js'

describe('pinery wait', () => {
  let service: TestService
  let origin: Origin
  const env = (): Record<string, string> => ({ PINERY_URL: service.url, PINERY_TOKEN: service.tokens.alice as string })
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(CLI, args, env())
  const pin = async (body: object, path = '/pins'): Promise<string> => {
    const res = await service.request(path, {
      method: 'POST', user: 'alice', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })
    expect(res.status, await res.clone().text()).toBe(202)
    return (await res.json() as { requestid: string }).requestid
  }
  const nowhere = async (): Promise<string> => (await missingCid()).toString()

  beforeAll(async () => {
    origin = await startOrigin()
    service = await startService({ users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '6000' } })
  })
  afterAll(async () => {
    await service?.destroy()
    await origin?.stop()
  })

  it('ends at once for a pin already pinned, exit 0', async () => {
    const id = await pin({ cid: instantCid().toString() })
    const done = await cli('wait', id)
    expect(done.code, done.stderr).toBe(0)
    expect(done.stdout).toBe(`${id} pinned\n`)
  })

  it('follows a queued pin through its Restart with an origin until it is pinned', async () => {
    const id = await pin({ cid: await nowhere(), name: 'build 7' })
    const child = spawn(process.execPath, [CLI, '--json', 'wait', id], {
      env: { PATH: process.env.PATH ?? '', ...env() }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    const waiting = new Promise<void>(resolve => {
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.includes('\n')) resolve() })
    })
    await waiting
    expect(stderr).toMatch(new RegExp(`^waiting for ${id} \\((queued|pinning)\\)\\n$`))
    const { cid } = await origin.addRandomFile(2)
    const replacement = await pin({ cid: cid.toString(), name: 'build 7', origins: origin.addrs }, `/pins/${id}`)
    const [code] = await once(child, 'exit') as [number]
    expect(code, stderr).toBe(0)
    const [outcome] = JSON.parse(stdout) as Array<{ requestid: string, status: string, pin: { pin: { cid: string } } }>
    expect(outcome).toMatchObject({ requestid: replacement, status: 'pinned', pin: { pin: { cid: cid.toString() } } })
  })

  it('exit 1 for a pin that fails, one not found, and one still queued after --timeout', async () => {
    const failing = await pin({ cid: await nowhere(), origins: origin.addrs })
    const failed = await cli('wait', failing)
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(new RegExp(`^${failing} failed: .+\\n$`))

    const gone = await cli('wait', '0f0f0f0f-0000-4000-8000-000000000000')
    expect(gone.code).toBe(1)
    expect(gone.stdout).toBe('0f0f0f0f-0000-4000-8000-000000000000 not found\n')

    // A CID nobody has stays queued or pinning until it stalls (6 s here): --timeout 1 ends the wait first.
    const slow = await pin({ cid: await nowhere() })
    const late = await cli('wait', slow, '--timeout', '1')
    expect(late.code).toBe(1)
    expect(late.stdout).toMatch(new RegExp(`^${slow} still (queued|pinning) after 1 s\\n$`))

    const bad = await cli('wait', slow, '--timeout', 'soon')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--timeout must be a duration/)
    expect((await cli('wait')).code).toBe(2)
  })
})
