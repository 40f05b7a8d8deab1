/**
 * The `pinery` CLI as operators run it (dist/cli.js in a child process):
 * users and tokens offline on the data dir, then online through the running
 * service with PINERY_TOKEN, text for people and --json for scripts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CLI, run, startServerProcess, type ServerProcess } from './fixtures/process.js'

const ADMIN = 'pinery_cli-test-admin-token'

describe('pinery CLI', () => {
  let dataDir: string
  let server: ServerProcess | undefined
  beforeEach(async () => { dataDir = await mkdtemp(join(tmpdir(), 'pinery-cli-')) })
  afterEach(async () => {
    await server?.stop()
    server = undefined
    await rm(dataDir, { recursive: true, force: true })
  })

  const offline = async (...args: string[]): Promise<Awaited<ReturnType<typeof run>>> =>
    await run(CLI, args, { PINERY_DATA_DIR: dataDir })
  const online = async (token: string, ...args: string[]): Promise<Awaited<ReturnType<typeof run>>> =>
    await run(CLI, ['--url', server?.url ?? '', ...args], { PINERY_TOKEN: token, PINERY_DATA_DIR: '/nonexistent' })
  const json = <T>(r: { code: number | null, stdout: string, stderr: string }): T => {
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    return JSON.parse(r.stdout) as T
  }

  it('creates a user and a token offline; the service takes the token; the token is revoked online', async () => {
    const user = json<{ name: string, quota: unknown }>(
      await offline('--json', 'user', 'create', 'alice', '--quota-bytes', '1GiB', '--quota-pins', '100'))
    expect(user).toMatchObject({ name: 'alice', quota: { bytes: 1024 ** 3, pins: 100 } })
    const created = await offline('token', 'create', '--user', 'alice', '--label', 'laptop', '--scope', 'pins:write')
    expect(created.code).toBe(0)
    const secret = created.stdout.trim()
    expect(secret).toMatch(/^pinery_[A-Za-z0-9_-]{43}$/)
    const listed = await offline('token', 'list', '--user', 'alice')
    expect(listed.stdout).toMatch(new RegExp('^ID +LABEL +SCOPE +CREATED +LAST USED +EXPIRES +CREATED BY\n' +
      '\\S+ +laptop +pins:write +\\S+ +never +never +offline\n$'))

    server = await startServerProcess({
      PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: ADMIN
    })
    const use = async (): Promise<number> => (await fetch(`${server?.url}/pins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: '{"cid":"bafkqaaa"}'
    })).status
    expect(await use()).toBe(202)
    // Offline commands now refuse, changing nothing.
    const refused = await offline('user', 'list')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/in use by another process/)

    const tokens = json<Array<{ id: string, label: string, lastUsed?: string }>>(
      await online(ADMIN, '--json', 'token', 'list', '--user', 'alice'))
    expect(tokens).toEqual([expect.objectContaining({ label: 'laptop', lastUsed: expect.any(String) })])
    const usage = json<{ user: string, pins: { pinned: number }, limits: unknown }>(
      await online(ADMIN, '--json', 'usage', '--user', 'alice'))
    expect(usage).toMatchObject({ user: 'alice', pins: { pinned: 1 }, limits: { bytes: 1024 ** 3, pins: 100 } })
    const revoked = await online(ADMIN, 'token', 'revoke', '--user', 'alice', tokens[0]?.id ?? '')
    expect(revoked.stdout).toBe(`revoked token ${tokens[0]?.id}\n`)
    expect(await use()).toBe(401)
  })

  it('lets any token manage its own devices and see its own usage online', async () => {
    await offline('user', 'create', 'dana', '--quota-pins', '5')
    const phone = (await offline('token', 'create', '--user', 'dana', '--label', 'phone', '--scope', 'pins:write'))
      .stdout.trim()
    server = await startServerProcess({
      PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: ADMIN
    })
    const ci = json<{ id: string, secret: string, scope: string, user: string }>(
      await online(phone, '--json', 'token', 'create', '--label', 'ci', '--scope', 'pins:add'))
    expect(ci).toMatchObject({ user: 'dana', scope: 'pins:add', secret: expect.stringMatching(/^pinery_/) })
    // A user's name where --user was meant is refused (old code: a token for the caller; with the admin
    // token, an admin token for whoever asked for one for dana).
    const misread = await online(ADMIN, 'token', 'create', 'dana', '--label', 'laptop')
    expect([misread.code, misread.stdout, misread.stderr.trimEnd().split('\n').at(-1)])
      .toEqual([2, '', 'pinery: unexpected "dana": give the user as --user dana'])
    expect((await online(ADMIN, 'token', 'list')).stdout).not.toMatch(/ laptop /)
    const mine = await online(phone, 'token', 'list')
    expect(mine.stdout.split('\n').filter(l => / (phone|ci) /.test(l))).toHaveLength(2)
    // The phone created the ci token: the list says so.
    const phoneId = json<Array<{ id: string, label: string }>>(await online(phone, '--json', 'token', 'list'))
      .find(t => t.label === 'phone')?.id
    expect(mine.stdout).toMatch(new RegExp(` ci +pins:add .* ${phoneId ?? 'none'}\n`))
    expect((await online(phone, 'usage')).stdout).toBe('dana\n  pins: 0 pinned, 0 queued, 0 pinning, 0 failed\n' +
      '  pinned: 0 B in 0 distinct CIDs\n  quota: 5 pins\n')
    expect((await online(phone, 'usage', '--all')).stderr).toMatch(/FORBIDDEN \(403\)/)
    expect((await online(phone, 'token', 'revoke', ci.id)).code).toBe(0)
    expect((await fetch(`${server.url}/pins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ci.secret}`, 'content-type': 'application/json' },
      body: '{"cid":"bafkqaaa"}'
    })).status).toBe(401)
  })

  it('manages users online in text and JSON, and says why it refuses', async () => {
    server = await startServerProcess({
      PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: ADMIN
    })
    expect((await online(ADMIN, 'user', 'create', 'bob', '--quota-bytes', '2GB')).stdout).toContain('quota: 1.86 GiB')
    const updated = json<{ quota?: unknown, role: string }>(
      await online(ADMIN, '--json', 'user', 'update', 'bob', '--quota-bytes', 'none', '--role', 'admin'))
    expect(updated).toMatchObject({ role: 'admin' })
    expect(updated.quota).toBeUndefined()
    const list = await online(ADMIN, 'user', 'list')
    expect(list.stdout).toMatch(new RegExp('^NAME +ROLE +PINS +PINNED +QUOTA +CREATED\n' +
      'admin +admin +0 +0 B +unlimited +\\S+\nbob +admin +0 +0 B +unlimited +\\S+\n$'))
    const team = await online(ADMIN, 'usage', '--all')
    expect(team.stdout).toMatch(/\nnode: \d+ blocks, .+ on disk\n$/)

    const secret = (await online(ADMIN, 'token', 'create', '--user', 'bob', '--scope', 'pins:read')).stdout.trim()
    const forbidden = await online(secret, 'user', 'list')
    expect(forbidden.code).toBe(1)
    expect(forbidden.stderr)
      .toBe('pinery: FORBIDDEN (403): this token has the pins:read scope; this request needs admin\n')
    const missing = await online(ADMIN, 'user', 'delete', 'nobody')
    expect(missing.stderr).toBe('pinery: NOT_FOUND (404): no user nobody\n')
    expect((await online(ADMIN, 'user', 'delete', 'bob')).stdout)
      .toBe('deleted user bob: 0 pin requests removed, 1 token revoked\n')

    const noToken = await run(CLI, ['--url', server.url, 'user', 'list'], {})
    expect(noToken.code).toBe(2)
    const reason = 'pinery: online commands (--url or PINERY_URL) need a token in PINERY_TOKEN\n'
    // Just the reason: the whole help above it (old code) said nothing about the token.
    expect(noToken.stderr).toBe(reason)
    expect(await run(CLI, ['user', 'list'], { PINERY_URL: server.url })).toMatchObject({ code: 2, stderr: reason })
  })

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['user', 'create'], /NAME is required/],
    [['user', 'create', 'x', '--quota-bytes', 'lots'], /--quota-bytes must be a size/],
    [['user', 'create', 'x', '--role', 'king'], /--role must be member or admin/],
    [['token', 'create', '--user', 'x', '--scope', 'root'], /--scope must be one of/],
    [['token', 'create', '--user', 'x', '--expires', 'soon'], /--expires must be a time/],
    [['user', 'list', '--colour'], /Unknown option '--colour'/],
    [['user', 'create', 'x', '--quota-pins', '99999999999999999999'], /--quota-pins must be a whole number/],
    [['--url', '', 'user', 'list'], /--url must be the service's address/],
    [['--url', 'http://me:pinery_secret@127.0.0.1:1', 'user', 'list'], /--url must not hold a user or password/],
    [['token', 'list'], /--user NAME \(offline\) is required/],
    [['usage', '--user', 'x', '--all'], /not both/],
    [['--url', 'http://127.0.0.1:1', 'ls', '--limit', 'lots'], /--limit must be a whole number from 1 to 1000/],
    [['--url', 'http://127.0.0.1:1', 'add', 'build', '--meta', 'branch'], /--meta must be KEY=VALUE/],
    [['--url', 'http://127.0.0.1:1', 'add'], /PATH is required/]
  ])('refuses %j with exit code 2 and the usage, the message last', async (args, message) => {
    const r = await offline(...args)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Usage: pinery')
    // Last, where the terminal leaves it in sight (above the usage it scrolled away).
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(message)
  })

  it('keeps the admin user an admin even when created by hand', async () => {
    expect(json<{ role: string }>(await offline('--json', 'user', 'create', 'admin')).role).toBe('admin')
    server = await startServerProcess({
      PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: ADMIN
    })
    expect((await online(ADMIN, 'user', 'list')).code).toBe(0)
  })

  it('works offline when PINERY_URL is set but empty, as when it is unset', async () => {
    const r = await run(CLI, ['--json', 'user', 'create', 'dave'], { PINERY_DATA_DIR: dataDir, PINERY_URL: '' })
    expect(json<{ name: string }>(r).name).toBe('dave')
  })

  it('refuses a bad user name offline with exit code 1, and deletes a user with pins only when asked', async () => {
    const bad = await offline('user', 'create', 'Alice')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/user name "Alice" must be/)
    await offline('user', 'create', 'carol')
    const secret = (await offline('token', 'create', '--user', 'carol')).stdout.trim()
    server = await startServerProcess({
      PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: ADMIN
    })
    await fetch(`${server.url}/pins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: '{"cid":"bafkqaaa"}'
    })
    await server.stop()
    server = undefined
    const refused = await offline('user', 'delete', 'carol')
    expect(refused.stderr).toMatch(/still has 1 pin requests/)
    const deleted = json<{ removedPins: number, revokedTokens: number }>(
      await offline('--json', 'user', 'delete', 'carol', '--remove-pins'))
    expect(deleted).toEqual({ removedPins: 1, revokedTokens: 1 })
    expect((await offline('user', 'show', 'carol')).stderr).toBe('pinery: no user carol\n')
  })
})

describe('pinery CLI output of stored text', () => {
  let dataDir: string
  beforeEach(async () => { dataDir = await mkdtemp(join(tmpdir(), 'pinery-cli-')) })
  afterEach(async () => { await rm(dataDir, { recursive: true, force: true }) })

  it('escapes control and bidi characters a label stored before labels were restricted holds', async () => {
    expect((await run(CLI, ['user', 'create', 'alice'], { PINERY_DATA_DIR: dataDir })).code).toBe(0)
    // As an older version stored it: straight into the datastore, past today's validation.
    const label = 'evil\u001b]0;owned\u0007\u001b[2J\u009b31m\u202etxt.exe\nNEXT LINE'
    const db = new Level<string, string>(join(dataDir, 'datastore'), { valueEncoding: 'utf8' })
    const user = JSON.parse(await db.get('/pinery/auth/user/alice') as string) as { created: string }
    const hex = 'ab'.repeat(32)
    await db.put(`/pinery/auth/token/${hex}`, JSON.stringify({
      id: 'old-token',
      user: 'alice',
      label,
      scope: 'pins:write',
      created: new Date().toISOString(),
      hash: hex,
      userCreated: user.created
    }))
    await db.put('/pinery/auth/user-token/alice/old-token', hex)
    await db.close()

    const text = await run(CLI, ['token', 'list', '--user', 'alice'], { PINERY_DATA_DIR: dataDir })
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('evil\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202etxt.exe\\x0aNEXT LINE')
    expect(text.stdout.split('\n')).toHaveLength(3) // the header, one token, the final newline
    const json = await run(CLI, ['--json', 'token', 'list', '--user', 'alice'], { PINERY_DATA_DIR: dataDir })
    for (const out of [text.stdout, json.stdout]) {
      // eslint-disable-next-line no-control-regex -- control characters are what this looks for
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/)
    }
    expect((JSON.parse(json.stdout) as Array<{ label: string }>)[0]?.label).toBe(label)
  })
})
