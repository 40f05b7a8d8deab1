/**
 * `pinery webhook add|list|test|deliveries|enable|rm` as an operator runs it
 * (dist/cli.js in a child process) against a running service, delivering to
 * a receiver process.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, run } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'
import { startService, type TestService } from '../fixtures/service.js'
import { verify } from '../fixtures/webhook-checks.js'

describe('pinery webhook', () => {
  let dir: string
  let receiver: Receiver
  let service: TestService
  const cli = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await run(CLI, args, { PINERY_URL: service.url, PINERY_TOKEN: service.tokens.alice as string })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-webhook-cli-'))
    receiver = await startReceiver(join(dir, 'received.jsonl'))
    service = await startService({ users: ['alice'], env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
  })
  afterAll(async () => {
    await service?.destroy()
    await receiver?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('adds, lists, tests, shows deliveries, re-enables and removes', async () => {
    const added = await cli(
      '--json', 'webhook', 'add', receiver.url, '--events', 'pin.pinned,pin.failed', '--description', 'ci'
    )
    expect(added.code, added.stderr).toBe(0)
    const hook = JSON.parse(added.stdout) as { id: string, secret: string }
    expect(hook.secret).toMatch(/^whsec_/)
    const text = await cli('webhook', 'add', receiver.url, '--events', 'pin.pinned')
    expect(text.stdout).toMatch(/^webhook [0-9a-f-]{36}\nsecret whsec_/)

    const list = await cli('webhook', 'list')
    expect(list.stdout).toContain(hook.id)
    expect(list.stdout).toContain('pin.pinned,pin.failed')
    expect(list.stdout).not.toContain(hook.secret)

    const test = await cli('webhook', 'test', hook.id)
    expect(test.code, test.stderr).toBe(0)
    expect(test.stdout).toMatch(/^delivered test-[0-9a-f-]+: 200 in \d+ ms/)
    const got = (await receiver.received()).at(-1)
    expect(verify(hook.secret, got?.headers['pinery-signature'] as string, got?.body as string)).toBe(true)

    const deliveries = await cli('webhook', 'deliveries', hook.id)
    expect(deliveries.stdout).toMatch(/TIME +EVENT +STATUS +MS +ERROR\n.*test-.* 200 /)
    expect((await cli('webhook', 'enable', hook.id)).stdout).toBe(`webhook ${hook.id} enabled\n`)
    expect((await cli('webhook', 'rm', hook.id)).stdout).toBe(`removed webhook ${hook.id}\n`)
    const gone = await cli('webhook', 'rm', hook.id)
    expect(gone.code).toBe(1)
    expect(gone.stderr).toMatch(/NOT_FOUND \(404\)/)
  }, 60_000)

  it('says what is missing, and that webhooks are online only', async () => {
    expect((await cli('webhook', 'add', receiver.url)).stderr).toMatch(/--events/)
    const refused = await cli('webhook', 'add', 'http://10.0.0.1/x', '--events', 'pin.pinned')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/private/)
    const offline = await run(CLI, ['webhook', 'list'], { PINERY_DATA_DIR: dir })
    expect(offline.code).toBe(2)
    expect(offline.stderr).toMatch(/online/)
  })
})
