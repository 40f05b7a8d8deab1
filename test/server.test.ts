/**
 * The service as an operator runs it: `node dist/server.js` with environment
 * configuration, and the `pinery` CLI beside it.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CLI, SERVER, run, startServerProcess, type ServerProcess } from './fixtures/process.js'

describe('node dist/server.js', () => {
  let dataDir: string
  let server: ServerProcess | undefined
  const base = (): Record<string, string> =>
    ({ PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0' })
  beforeEach(async () => { dataDir = await mkdtemp(join(tmpdir(), 'pinery-proc-')) })
  afterEach(async () => {
    await server?.stop()
    server = undefined
    await rm(dataDir, { recursive: true, force: true })
  })

  it('--help lists every setting with its default', async () => {
    const { code, stdout } = await run(SERVER, ['--help'], {})
    expect(code).toBe(0)
    for (const name of ['PINERY_DATA_DIR', 'PINERY_HTTP_HOST', 'PINERY_HTTP_PORT', 'PINERY_LISTEN', 'PINERY_ANNOUNCE',
      'PINERY_ADMIN_TOKEN', 'PINERY_PIN_CONCURRENCY', 'PINERY_STALL_TIMEOUT_MS']) {
      expect(stdout).toContain(name)
    }
    expect(stdout).toContain('default: 120000')
  })

  it.each([
    ['a malformed listen multiaddr', { PINERY_LISTEN: '/ip4/not-an-ip/tcp/1' }, /PINERY_LISTEN/],
    ['a non-TCP listen multiaddr', { PINERY_LISTEN: '/ip4/127.0.0.1/udp/1' }, /PINERY_LISTEN.*not a TCP/],
    ['a malformed announce multiaddr', { PINERY_ANNOUNCE: 'example.com:4001' }, /PINERY_ANNOUNCE/],
    ['a port that is not a number', { PINERY_HTTP_PORT: 'eighty' }, /PINERY_HTTP_PORT/],
    ['a zero concurrency', { PINERY_PIN_CONCURRENCY: '0' }, /PINERY_PIN_CONCURRENCY/],
    ['an unwritable data dir', { PINERY_DATA_DIR: '/dev/null/pinery' }, /data dir .* is not writable/],
    // Node's recursive mkdir never returned for this one: the service hung, silent.
    ['a data dir the kernel cannot make', { PINERY_DATA_DIR: '/proc/pinery' }, /data dir .* is not writable: ENOENT/],
    ['a data dir that is a file', { PINERY_DATA_DIR: '/etc/passwd' }, /data dir \/etc\/passwd is a file, not a dir/],
    ['an empty data dir', { PINERY_DATA_DIR: ' ' }, /PINERY_DATA_DIR.*must not be empty/],
    ['an empty HTTP host (it would listen everywhere)', { PINERY_HTTP_HOST: '' },
      /PINERY_HTTP_HOST.*must not be empty/],
    ['no listen address', { PINERY_LISTEN: ' , ' }, /PINERY_LISTEN.*at least one/],
    ['an admin token a client cannot send', { PINERY_ADMIN_TOKEN: 'has a space in it, sadly' },
      /PINERY_ADMIN_TOKEN.*printable ASCII/],
    ['a short admin token', { PINERY_ADMIN_TOKEN: 'short' }, /PINERY_ADMIN_TOKEN.*at least 16/]
  ])('refuses %s with one clear line and a non-zero exit', async (_what, env, message) => {
    const { code, stderr } = await run(SERVER, [], { ...base(), ...env })
    expect(code).not.toBe(0)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(message)
  })

  it.each([
    ['blocks', /blockstore at .*blocks cannot be opened: not a directory/],
    ['datastore', /startup failed: Database failed to open/]
  ])('refuses a data dir whose %s is a file, with one line on stderr', async (name, message) => {
    await writeFile(join(dataDir, name), 'not a store\n')
    const { code, stderr } = await run(SERVER, [], base())
    expect(code).not.toBe(0)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(message)
  })

  it('refuses an HTTP port in use', async () => {
    const blocker = createServer()
    await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const { code, stderr } = await run(SERVER, [], { ...base(), PINERY_HTTP_PORT: String(port) })
      expect(code).not.toBe(0)
      expect(stderr).toMatch(new RegExp(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`))
    } finally {
      blocker.close()
    }
  })

  it('generates the admin token once, stores only its hash, and stops cleanly on SIGTERM', async () => {
    server = await startServerProcess(base())
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(server.delegates.every(d => d.endsWith(`/p2p/${server?.peerId}`))).toBe(true)
    const file = join(dataDir, 'admin-token')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const token = (await readFile(file, 'utf8')).trim()
    expect(server.stderr()).toContain(token)
    // The operator learns the web app is there, at the same URL.
    expect(server.stderr()).toContain(`  web app:  ${server.url}/ in a browser`)
    const ok = await fetch(`${server.url}/pins`, { headers: { authorization: `Bearer ${token}` } })
    expect(ok.status).toBe(200)
    expect(await server.stop()).toBe(0)

    // The secret is in no datastore file (LevelDB runs uncompressed, so it would show verbatim); its hash is.
    const files = await readdir(join(dataDir, 'datastore'))
    const contents = Buffer.concat(await Promise.all(files.map(async f =>
      await readFile(join(dataDir, 'datastore', f)))))
    expect(contents.includes(token)).toBe(false)
    expect(contents.includes(createHash('sha256').update(token).digest('hex'))).toBe(true)
    await writeFile(file, 'gone\n')
    server = await startServerProcess(base())
    expect(server.stderr()).not.toContain('Generated the admin token')
    expect((await fetch(`${server.url}/pins`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
  })

  it('pinery token create works offline, refuses while the service runs, and its token works', async () => {
    expect((await run(CLI, ['token', 'create', '--user', 'alice'], { PINERY_DATA_DIR: dataDir })).stderr)
      .toBe('pinery: no user alice\n')
    expect((await run(CLI, ['user', 'create', 'alice'], { PINERY_DATA_DIR: dataDir })).code).toBe(0)
    const created = await run(CLI, ['token', 'create', '--user', 'alice', '--label', 'laptop'],
      { PINERY_DATA_DIR: dataDir })
    expect(created.code).toBe(0)
    const token = created.stdout.trim()
    expect(created.stdout).toBe(`${token}\n`)
    expect(token).toMatch(/^pinery_[A-Za-z0-9_-]{43}$/)

    // The ready block is printed whatever the log level.
    server = await startServerProcess({ ...base(), PINERY_LOG_LEVEL: 'silent' })
    const refused = await run(CLI, ['token', 'create', '--user', 'bob'], { PINERY_DATA_DIR: dataDir })
    expect(refused.code).not.toBe(0)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toMatch(/in use by another process \(is the Pinery service running\?\)/)

    const res = await fetch(`${server.url}/pins`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
  })
})
