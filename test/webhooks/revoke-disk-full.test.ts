/**
 * Revoking a token disables the webhooks it registered (revoked-creator.test.ts), so a stolen token's
 * webhook stops POSTing the user's events to the thief. The token's deletion and the webhooks' disabling
 * were two writes: a disk that ran full between them (fixtures/disk-full.c cuts the second short) left the
 * token gone and its webhook enabled, the revocation answered 507, and asking again answered 404, so the
 * webhook kept delivering for good, also after a restart. Now both land in one batch, or neither does.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { diskFullEnv } from '../fixtures/disk-full.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'

const TOKEN = 'pinery_revoke-disk-full-admin'
const json = { 'content-type': 'application/json' }
/** Bytes the disk takes once full: the token's deletion (~270 bytes in LevelDB's log), not a webhook after it. */
const ROOM = '320'

let dir: string | undefined
let server: ServerProcess | undefined
let receiver: Receiver | undefined
afterAll(async () => {
  await server?.stop()
  await receiver?.kill()
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

describe('revoking a token while the disk runs full', () => {
  it('never leaves the token gone and the webhook it registered enabled', async () => {
    const base = dir = await mkdtemp(join(tmpdir(), 'pinery-revoke-full-'))
    receiver = await startReceiver(join(base, 'received.log'))
    const dataDir = join(base, 'data')
    const cue = join(base, 'full')
    const env = { ...serverEnv(dataDir, TOKEN), PINERY_WEBHOOK_ALLOW: '127.0.0.1' }
    server = await startServerProcess({
      ...env,
      ...await diskFullEnv(dataDir, cue)
    })
    const call = async (method: string, path: string, secret: string, body?: unknown): Promise<Response> => {
      const url = (server as ServerProcess).url
      return await fetch(`${url}${path}`, {
        method,
        headers: { ...json, authorization: `Bearer ${secret}` },
        ...(body != null ? { body: JSON.stringify(body) } : {})
      })
    }
    expect((await call('POST', '/users', TOKEN, { name: 'alice' })).status).toBe(201)
    const token = async (): Promise<{ id: string, secret: string }> =>
      await (await call('POST', '/users/alice/tokens', TOKEN, {})).json() as { id: string, secret: string }
    const stolen = await token()
    const kept = await token()
    const target = { url: `${receiver.url}/thief`, events: ['pin.pinned'] }
    const registered = await call('POST', '/webhooks', stolen.secret, target)
    expect(registered.status).toBe(201)
    const hook = (await registered.json() as { id: string }).id
    // Every token used once already: their last-use writes (once a minute) are not in the way.
    expect((await call('GET', `/webhooks/${hook}`, kept.secret)).status).toBe(200)

    await writeFile(cue, ROOM)
    const revoked = await call('DELETE', `/users/alice/tokens/${stolen.id}`, TOKEN)
    await rm(cue)
    // The revocation is asked again until it is answered (the datastore reopens once it has room).
    let status = revoked.status
    for (let i = 0; i < 100 && status !== 204 && status !== 404; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      status = (await call('DELETE', `/users/alice/tokens/${stolen.id}`, TOKEN)).status
    }
    expect([204, 404]).toContain(status)

    const check = async (): Promise<void> => {
      expect((await call('GET', '/pins', stolen.secret)).status).toBe(401)
      const shown = await (await call('GET', `/webhooks/${hook}`, kept.secret)).json() as { enabled: boolean }
      expect(shown).toMatchObject({ enabled: false })
    }
    await check()
    expect(await server.stop()).toBe(0)
    server = await startServerProcess(env)
    await check()
  })
})
