/**
 * Restores of archives a backup never writes (damaged, forged or odd): each is refused with a message that says
 * what is wrong, and leaves neither a data dir nor a staging dir. Also: a restore removes the staging dir a
 * killed restore left (but not one a running restore holds), and `backup --out -` streams a restorable archive
 * to a pipe.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BadBackupError, restoreBackup } from '../src/backup/restore.js'
import { openDatastore, openStores } from '../src/node/storage.js'
import { MANIFEST } from '../src/backup/archive.js'
import { archive, block, type Entry } from './fixtures/backup-archive.js'
import { CLI, LOOPBACK_DIALS, run } from './fixtures/process.js'

let root: string

async function * from (bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes
}

/** Restores `bytes` into a new dir; resolves with the error, and checks nothing was left behind. */
async function refused (bytes: Buffer): Promise<Error> {
  const parent = await mkdtemp(join(root, 'case-'))
  const err = await restoreBackup(from(bytes), join(parent, 'data')).then(() => undefined, (e: Error) => e)
  expect(err).toBeInstanceOf(BadBackupError)
  expect(await readdir(parent)).toEqual([])
  return err as Error
}

beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'pinery-archives-')) })
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

describe('restoring crafted archives', () => {
  it('restores a whole archive it is given', async () => {
    const target = join(await mkdtemp(join(root, 'case-')), 'data')
    const report = await restoreBackup(from(await archive([await block(randomBytes(1000))])), target)
    expect(report).toMatchObject({ keys: 1, blocks: 1, blockBytes: 1000, leftovers: 0 })
  })

  it('refuses a block whose bytes do not hash to its CID', async () => {
    const good = await block(randomBytes(1000))
    const forged = { cid: good.cid, bytes: randomBytes(1000) }
    expect((await refused(await archive([forged]))).message).toMatch(/do not hash to its CID/)
  })

  it('refuses links and directories, a repeated or late datastore chunk, and an entry that is not JSON', async () => {
    const one = await block(randomBytes(100))
    const link = await archive([one], e => [...e.slice(0, 2),
      { name: `blocks/${one.cid.toString()}`, type: 'symlink', linkname: '/etc/passwd' }, ...e.slice(3)])
    expect((await refused(link)).message).toMatch(/is a symlink, not a file/)
    const dir = await archive([], e => [e[0] as Entry, { name: 'blocks/', type: 'directory' }, ...e.slice(1)])
    expect((await refused(dir)).message).toMatch(/is a directory, not a file/)
    const twice = await archive([one], e => [e[0] as Entry, e[1] as Entry, ...e.slice(1)])
    expect((await refused(twice)).message).toMatch(/datastore\/000001\.kv is out of place/)
    const late = await archive([one], e => [e[0] as Entry, ...e.slice(2, 3), e[1] as Entry, ...e.slice(3)])
    expect((await refused(late)).message).toMatch(/out of place/)
    const notJson = await archive([one], e => [{ name: MANIFEST, bytes: Buffer.from('{"format":') }, ...e.slice(1)])
    expect((await refused(notJson)).message).toMatch(/pinery-backup\.json is not JSON/)
    const escape = await archive([one], e => [e[0] as Entry, { name: '../../escape', bytes: Buffer.from('x') },
      ...e.slice(1)])
    expect((await refused(escape)).message).toMatch(/unexpected entry \.\.\/\.\.\/escape/)
  })

  it('removes the staging dir of a killed restore, but not one a running restore holds', async () => {
    const parent = await mkdtemp(join(root, 'case-'))
    const killed = join(parent, '.data.restoring-0123abcd')
    await mkdir(join(killed, 'blocks'), { recursive: true })
    await writeFile(join(killed, 'blocks', 'x.data'), randomBytes(100))
    const running = await openDatastore(join(parent, '.data.restoring-89abcdef'))
    const other = join(parent, '.other.restoring-0123abcd')
    await mkdir(other)
    try {
      const report = await restoreBackup(from(await archive([])), join(parent, 'data'))
      expect(report.leftovers).toBe(1)
      expect((await readdir(parent)).sort()).toEqual(['.data.restoring-89abcdef', '.other.restoring-0123abcd', 'data'])
    } finally {
      await running.close()
    }
  })

  it('backup --out - into a pipe its reader closes fails with a message, not a crash', async () => {
    const source = join(await mkdtemp(join(root, 'case-')), 'data')
    const stores = await openStores(source)
    for (let i = 0; i < 20; i++) {
      const { cid, bytes } = await block(randomBytes(1024 * 1024))
      await stores.blockstore.put(cid, bytes)
    }
    await stores.blockstore.sync()
    await stores.close()
    // The reader goes away after its first bytes.
    const child = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" backup --out - | head -c 1000 >/dev/null`], {
      env: { PATH: process.env.PATH ?? '', ...LOOPBACK_DIALS, PINERY_DATA_DIR: source },
      stdio: ['ignore', 'ignore', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    await once(child, 'exit')
    expect(stderr).toMatch(/^pinery: write EPIPE\n$/)
  })

  it('restores into a data dir that is a mount point of its own, building it there', async () => {
    const parent = await mkdtemp(join(root, 'case-'))
    const target = join(parent, 'data')
    await mkdir(target)
    // Machines of this kind run the suite as root (test-tools installs packages); without mount this fails.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', target], { stdio: 'ignore' })
    try {
      const report = await restoreBackup(from(await archive([await block(randomBytes(1000))])), target)
      expect(report.blocks).toBe(1)
      expect((await readdir(target)).sort()).toEqual(['blocks', 'datastore'])
      expect(await readdir(parent)).toEqual(['data'])
    } finally {
      execFileSync('umount', [target])
    }
  })

  it('backup --out - streams a restorable archive to a pipe, its line on stderr', async () => {
    const source = join(await mkdtemp(join(root, 'case-')), 'data')
    const one = await block(randomBytes(5000))
    await restoreBackup(from(await archive([one])), source)
    const child = spawn(process.execPath, [CLI, 'backup', '--out', '-'], {
      env: { PATH: process.env.PATH ?? '', ...LOOPBACK_DIALS, PINERY_DATA_DIR: source },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const parts: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => parts.push(d))
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const [code] = await once(child, 'exit') as [number]
    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(/wrote the backup to stdout/)
    const target = join(await mkdtemp(join(root, 'case-')), 'data')
    expect(await restoreBackup(from(Buffer.concat(parts)), target)).toMatchObject({ keys: 2, blocks: 1 })
    const bad = await run(CLI, ['restore', join(root, 'missing.tar')], { PINERY_DATA_DIR: join(root, 'nowhere') })
    expect(bad.code).toBe(1)
    // A data dir that is not there is not backed up as an empty node (nor made).
    const out = join(root, 'none.tar')
    const none = await run(CLI, ['backup', '--out', out], { PINERY_DATA_DIR: join(root, 'nowhere') })
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/holds no Pinery data/)
    expect(await readdir(root)).not.toContain('nowhere')
    expect(await readdir(root)).not.toContain('none.tar')
  })
})
