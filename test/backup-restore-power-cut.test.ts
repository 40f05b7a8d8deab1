/**
 * A restore reported done, then a power cut. The restore builds the data dir beside the target and renames it
 * into place (src/backup/restore.ts); that rename was not made durable, so a power cut right after "restored"
 * could leave no data dir at all and the whole node under the staging dir's name, which the next `pinery serve`
 * did not see (it made a new, empty node) and the next restore removed as a killed restore's leftover. Here the
 * restore runs with the power-cut preload, whose log says what each rename and directory fsync was; as in the
 * replay of test/fixtures/power-cut.ts, a name is durable once its directory was fsynced after it was made.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { archive, block } from './fixtures/backup-archive.js'
import { preparePowerCut, type PowerCut } from './fixtures/power-cut.js'

const CHILD = fileURLToPath(new URL('./fixtures/restore-child.ts', import.meta.url))

describe('a restore and a power cut', () => {
  let root: string
  let power: PowerCut | undefined
  afterEach(async () => {
    await power?.dispose()
    await rm(root, { recursive: true, force: true })
  })

  it('has made the data dir\'s name durable when it reports the restore done', async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'pinery-restore-cut-')))
    const dataDir = join(root, 'data')
    power = await preparePowerCut(dataDir)
    await writeFile(join(root, 'backup.tar'), await archive([await block(Buffer.from('one block'))]))
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD,
      join(root, 'backup.tar'), dataDir], { env: { PATH: process.env.PATH ?? '', ...power.env } })
    expect(JSON.parse(stdout)).toMatchObject({ keys: 1, blocks: 1 })
    const log = (await readFile(power.env.PINERY_SYNC_LOG as string, 'utf8')).split('\n')
    const renamed = log.findLastIndex(line => line.startsWith('R\t') && line.split('\t')[2] === dataDir)
    const durable = renamed >= 0 && log.slice(renamed + 1).includes(`D\t${root}`)
    // Before: { renamed: true, durable: false }.
    expect({ renamed: renamed >= 0, durable }).toEqual({ renamed: true, durable: true })
  })
})
