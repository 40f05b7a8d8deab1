/**
 * The README's JavaScript example runs as written against a real Pinery, with the official client
 * from node_modules: a developer copying it gets a pin, a count and Pinery's reason for a refusal.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from './fixtures/service.js'

let svc: TestService
beforeAll(async () => { svc = await startService({ users: ['alice'] }) }, 60_000)
afterAll(async () => { await svc?.destroy() })

describe('README: Using it from JavaScript', () => {
  it('runs as written', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Using it from JavaScript'), readme.indexOf('## Using it with curl'))
    const code = /```js\n([^`]+)```/.exec(section)?.[1]
    expect(code).toBeDefined()
    // --eval resolves the client's bare import from the working directory: the project's node_modules.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '--eval', code as string], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, PINERY_URL: svc.url, PINERY_TOKEN: svc.tokens.alice },
      timeout: 30_000
    })
    const [first, second] = stdout.trim().split('\n')
    expect(first).toMatch(/^[0-9a-f-]{36} (queued|pinning|pinned) 1$/)
    expect(second).toMatch(/^404 \{ reason: 'NOT_FOUND', details: 'no pin request no-such-request' \}$/)
    const left = await svc.request('/pins?status=queued,pinning,pinned,failed', { user: 'alice' })
    expect((await left.json() as { count: number }).count).toBe(0)
  })
})
