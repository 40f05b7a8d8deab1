/**
 * One user's requests carry at most PINERY_MAX_META_BYTES_PER_USER bytes of meta in all (each
 * request's meta is kept in memory and on disk): one more is refused 409 INSUFFICIENT_FUNDS with
 * the spec's Failure body; a replace counts what it frees, a delete makes room, other users are not
 * affected, and the count survives a restart from the index snapshot and from the records.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { afterEach, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const LIMIT = 64 * 1024
// {"k":"xxx…"}: 4,000 bytes of JSON, so 16 fit in LIMIT and a 17th does not.
const META = { k: 'x'.repeat(4000 - 8) }
const cidOf = (i: number): string =>
  CID.createV1(raw.code, identity.digest(new TextEncoder().encode(`m${i}`))).toString()

describe('meta bytes per user', () => {
  let service: TestService | undefined
  afterEach(async () => { await service?.destroy(); service = undefined })

  const start = async (dataDir?: string): Promise<TestService> => await startService({
    users: ['alice', 'bob'],
    env: { PINERY_MAX_META_BYTES_PER_USER: String(LIMIT) },
    ...(dataDir != null ? { dataDir } : {})
  })
  const send = async (user: string, path: string, body: unknown): Promise<Response> =>
    await (service as TestService).request(path, {
      method: 'POST', user, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })

  it('refuses the request that would take a user past the bound, with the spec Failure body', async () => {
    service = await start()
    expect(Buffer.byteLength(JSON.stringify(META))).toBe(4000)
    const ids: string[] = []
    for (let i = 0; i < 16; i++) {
      const res = await send('alice', '/pins', { cid: cidOf(i), meta: META })
      expect(res.status).toBe(202)
      ids.push((await res.json() as { requestid: string }).requestid)
    }
    const refused = await send('alice', '/pins', { cid: cidOf(16), meta: META })
    expect(refused.status).toBe(409)
    const body = await refused.json() as { error: { reason: string, details: string } }
    expect(body.error.reason).toBe('INSUFFICIENT_FUNDS')
    expect(body.error.details)
      .toMatch(/meta quota exceeded.*62\.5 KiB \(64,000 bytes\) of meta.*PINERY_MAX_META_BYTES_PER_USER/)
    // Without meta, or for another user, there is room.
    expect((await send('alice', '/pins', { cid: cidOf(17) })).status).toBe(202)
    expect((await send('bob', '/pins', { cid: cidOf(16), meta: META })).status).toBe(202)
    // A replace frees the meta of what it replaces.
    const replaced = await send('alice', `/pins/${ids[0] as string}`, { cid: cidOf(18), meta: META })
    expect(replaced.status).toBe(202)
    ids[0] = (await replaced.json() as { requestid: string }).requestid

    // Restarted from the index snapshot, then from the records alone: the count is the same.
    const dataDir = service.dataDir
    for (const snapshot of [true, false]) {
      await service.stop()
      if (!snapshot) await rm(join(dataDir, 'index.snapshot'), { force: true })
      service = await start(dataDir)
      expect((await send('alice', '/pins', { cid: cidOf(19), meta: META })).status).toBe(409)
    }
    // A delete makes room.
    const deleted = await service.request(`/pins/${ids[1] as string}`, { method: 'DELETE', user: 'alice' })
    expect(deleted.status).toBe(202)
    expect((await send('alice', '/pins', { cid: cidOf(19), meta: META })).status).toBe(202)
    // 1,536 bytes are left: a small meta fits, a larger one does not.
    expect((await send('alice', '/pins', { cid: cidOf(20), meta: { a: 'b' } })).status).toBe(202)
    expect((await send('alice', '/pins', { cid: cidOf(21), meta: { a: 'y'.repeat(1600) } })).status).toBe(409)
  })
})
