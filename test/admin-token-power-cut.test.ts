/**
 * The admin token generated on the first start is stored as a hash in LevelDB (fsynced) and given to the
 * operator once: on stderr and in `<data dir>/admin-token`. The file was written after the hash and never
 * fsynced, so a power cut soon after the first start left it empty while the hash stayed: the next start
 * saw a bootstrap token and generated none, and the admin was locked out (only PINERY_ADMIN_TOKEN, set by
 * hand, let them in again). The file is now durable before the hash is stored.
 */
import { readFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { powerCutCases } from './fixtures/power-cut.js'
import { serverEnv } from './fixtures/process.js'

describe('the generated admin token', () => {
  const cases = powerCutCases('pinery-admin-token-cut-')
  afterEach(cases.cleanup)

  it('still lets the admin in after a power cut right after the first start', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    const { PINERY_ADMIN_TOKEN: _none, ...env } = serverEnv(dataDir, '')
    const first = await start({ ...env, ...power.env })
    const shown = (await readFile(`${dataDir}/admin-token`, 'utf8')).trim()
    expect(first.stderr()).toContain(shown)
    await kill()
    await power.cut(['admin-token'])

    const server = await start(env)
    const token = (await readFile(`${dataDir}/admin-token`, 'utf8')).trim()
    const res = await fetch(`${server.url}/users`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
  })
})
