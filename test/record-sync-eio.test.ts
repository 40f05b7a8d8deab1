/**
 * A record write whose fsync failed: LevelDB answers it as failed (the service says 507), yet the record is
 * whole in its log, in the page cache Linux keeps after a failed writeback, and the reopen after the failure
 * (src/node/write-guard.ts) replays it into a table: it is stored after all. The pin index, counts and quotas
 * in memory never saw it. The service must not go on answering from them: it exits, and the next start
 * rebuilds them from the records, which an independent recount then matches.
 */
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { powerCutCases } from './fixtures/power-cut.js'
import { serverEnv } from './fixtures/process.js'
import { askedUsage, recountUsage } from './fixtures/recount.js'

const TOKEN = 'pinery_record-sync-eio-admin-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

describe('a failed record sync', () => {
  const cases = powerCutCases('pinery-record-sync-eio-')
  afterEach(cases.cleanup)

  it('is not answered from memory that lacks a write stored after all', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    let server = await start({ ...serverEnv(dataDir, TOKEN), ...power.env })
    const post = async (name: string): Promise<Response> => await fetch(`${server.url}/pins`, {
      method: 'POST', headers, body: JSON.stringify({ cid: 'bafkqaaa', name })
    })
    expect((await post('before')).status).toBe(202)
    await power.failSyncOnce('datastore/')
    const failed = await post('failed')
    const failure = {
      status: failed.status, body: await failed.json() as { error: { reason: string, details: string } }
    }
    // The reopen takes a moment; then the service either exits or answers again.
    const exited = once(server.child, 'exit').then(([code]) => code as number | null)
    const outcome = await Promise.race([exited, new Promise(resolve => setTimeout(() => { resolve('running') }, 5000))])
    // Still running, what it answers is compared with the records once it is stopped.
    const answered = outcome === 'running' ? await askedUsage(server.url, TOKEN) : undefined
    await kill()
    const recounted = await recountUsage(dataDir)
    server = await start(serverEnv(dataDir, TOKEN))
    const after = await askedUsage(server.url, TOKEN)
    const listed = await (await fetch(`${server.url}/pins?name=failed`, { headers })).json() as { count: number }
    await kill()
    expect({ outcome, answered, after }).toEqual({ outcome: 70, answered: undefined, after: recounted })
    // The request answered 507 exists after the restart: the answer said only a re-list can tell.
    expect({ status: failure.status, reason: failure.body.error.reason, listed: listed.count })
      .toEqual({ status: 507, reason: 'INSUFFICIENT_STORAGE', listed: 1 })
    expect(failure.body.error.details).toMatch(/may or may not have been stored.*list your pins/)
    expect(recounted.get('admin')?.pins.pinned).toBeGreaterThanOrEqual(1)
  })
})
