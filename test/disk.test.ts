/**
 * Files on disk, with the service run as an operator runs it (dist/server.js):
 * the data dir and everything in it are the owner's alone, the libp2p key is
 * stored encrypted with PINERY_KEY_PASSWORD (an existing plain key sealed on
 * first start, the peer ID kept), and no secret reaches an error or a log.
 */
import { chmod, lstat, mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { run, SERVER, startServerProcess, type ServerProcess } from './fixtures/process.js'

const ADMIN = 'pinery_disk-test-admin-token'
const PASSWORD = 'correct horse battery staple'

/** Every file and directory under `dir` (itself included) with its permission bits. */
async function modes (dir: string): Promise<Array<{ path: string, mode: number }>> {
  const entries = await readdir(dir, { recursive: true })
  return await Promise.all(['', ...entries].map(async e =>
    ({ path: e === '' ? '.' : e, mode: (await lstat(join(dir, e))).mode & 0o777 })))
}

/** The values of a stopped service's LevelDB at `keys` (undefined: absent). */
async function values (dataDir: string, keys: string[]): Promise<Array<string | undefined>> {
  const db = new Level<string, string>(join(dataDir, 'datastore'), { valueEncoding: 'utf8' })
  try {
    return await db.getMany(keys)
  } finally {
    await db.close()
  }
}

/** Every byte of every file under `dir`. */
async function contents (dir: string): Promise<Buffer> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const files = entries.filter(e => e.isFile())
  return Buffer.concat(await Promise.all(files.map(async e => await readFile(join(e.parentPath, e.name)))))
}

describe('files on disk', () => {
  let root: string
  let dataDir: string
  let server: ServerProcess | undefined
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    PINERY_DATA_DIR: dataDir,
    PINERY_HTTP_PORT: '0',
    PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0',
    PINERY_ADMIN_TOKEN: ADMIN,
    ...extra
  })
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pinery-disk-'))
    dataDir = join(root, 'data')
  })
  afterEach(async () => {
    await server?.stop()
    server = undefined
    await rm(root, { recursive: true, force: true })
  })

  it('creates the data dir and everything in it readable by the owner only (0700/0600)', async () => {
    server = await startServerProcess(env({ PINERY_ADMIN_TOKEN: '' }))
    const auth = { authorization: `Bearer ${(await readFile(join(dataDir, 'admin-token'), 'utf8')).trim()}` }
    // Blocks on disk, through an upload and a raw block.
    const upload = await fetch(`${server.url}/content?name=f`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(600_000, 7)
    })
    expect(upload.status).toBe(202)
    const token = await fetch(`${server.url}/tokens`, { method: 'POST', headers: auth, body: '{"label":"x"}' })
    expect(token.status).toBe(201)
    expect(await server.stop()).toBe(0)
    server = undefined
    const found = await modes(dataDir)
    expect(found.filter(f => f.path.startsWith('blocks/') && f.path.endsWith('.data')).length).toBeGreaterThan(1)
    expect(found.filter(f => f.path.startsWith('datastore/')).length).toBeGreaterThan(3)
    expect(found.filter(f => (f.mode & 0o077) !== 0)).toEqual([])
    expect(found.find(f => f.path === '.')?.mode).toBe(0o700)
  })

  it('tightens a data dir an older version left open (0755) at start', async () => {
    server = await startServerProcess(env())
    await server.stop()
    await chmod(dataDir, 0o755)
    server = await startServerProcess(env())
    expect((await lstat(dataDir)).mode & 0o777).toBe(0o700)
  })

  it(
    'encrypts an existing plain key with PINERY_KEY_PASSWORD, keeping the peer ID; the password is needed from then on',
    async () => {
      server = await startServerProcess(env())
      const peerId = server.peerId
      await server.stop()
      // libp2p's keychain entry: the key sealed with an empty password, so readable by anyone.
      const [plain] = await values(dataDir, ['/pkcs8/self'])
      expect(plain).toMatch(/^m/)

      server = await startServerProcess(env({ PINERY_KEY_PASSWORD: PASSWORD }))
      expect(server.peerId).toBe(peerId)
      await server.stop()
      expect(server.stderr()).not.toContain(PASSWORD)
      server = undefined
      // The keychain's entry is gone, from LevelDB's files too (uncompressed: it would show verbatim).
      const files = await contents(join(dataDir, 'datastore'))
      expect(files.includes(plain as string)).toBe(false)
      expect(files.includes(PASSWORD)).toBe(false)
      const [keychain, info, sealed] = await values(dataDir, ['/pkcs8/self', '/info/self', '/pinery/node-key'])
      expect([keychain, info]).toEqual([undefined, undefined])
      expect(JSON.parse(sealed as string)).toMatchObject({ v: 1, kdf: 'scrypt' })

      const without = await run(SERVER, [], env())
      expect(without.code).not.toBe(0)
      expect(without.stderr.trim().split('\n'))
        .toEqual(['pinery: the libp2p key is stored encrypted: set PINERY_KEY_PASSWORD to start'])
      const wrong = await run(SERVER, [], env({ PINERY_KEY_PASSWORD: 'not the right password' }))
      expect(wrong.code).not.toBe(0)
      expect(wrong.stderr.trim().split('\n'))
        .toEqual(['pinery: PINERY_KEY_PASSWORD does not open the stored libp2p key (wrong password?)'])
      expect(wrong.stderr + wrong.stdout).not.toContain('not the right password')

      server = await startServerProcess(env({ PINERY_KEY_PASSWORD: PASSWORD }))
      expect(server.peerId).toBe(peerId)
    })

  it('a new data dir with PINERY_KEY_PASSWORD never holds the key in plain', async () => {
    server = await startServerProcess(env({ PINERY_KEY_PASSWORD: PASSWORD }))
    const peerId = server.peerId
    await server.stop()
    server = undefined
    expect(await values(dataDir, ['/pkcs8/self', '/info/self'])).toEqual([undefined, undefined])
    expect((await contents(join(dataDir, 'datastore'))).includes('/pkcs8/')).toBe(false)
    server = await startServerProcess(env({ PINERY_KEY_PASSWORD: PASSWORD }))
    expect(server.peerId).toBe(peerId)
  })

  it.each([
    [
      'a rejected PINERY_ADMIN_TOKEN', { PINERY_ADMIN_TOKEN: 'secret with spaces 1234' }, 'secret with spaces 1234',
      /PINERY_ADMIN_TOKEN \(value not shown\): must be at least 16 printable/
    ],
    ['a short one', { PINERY_ADMIN_TOKEN: 'hunter2' }, 'hunter2', /PINERY_ADMIN_TOKEN \(value not shown\)/],
    [
      'a short PINERY_KEY_PASSWORD', { PINERY_KEY_PASSWORD: 'tiny-pass' }, 'tiny-pass',
      /PINERY_KEY_PASSWORD \(value not shown\): must be at least 12/
    ]
  ])('never echoes %s in its error', async (_what, extra, secret, message) => {
    const { code, stderr, stdout } = await run(SERVER, [], env(extra))
    expect(code).not.toBe(0)
    expect(stderr).toMatch(message)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr + stdout).not.toContain(secret)
  })
})
