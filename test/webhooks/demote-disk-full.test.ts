/**
 * An admin demoted to member loses the node-wide webhooks they registered (demoted-owner.test.ts): they
 * carried every user's events to a member's URL. The role and the webhooks were two writes: a disk that
 * ran full between them (fixtures/disk-full.c cuts the second short) stored the demotion, answered 507,
 * and left the node-wide webhook enabled; the user showed as a member, so nothing said to ask again, and
 * a restart changed nothing. Now the role and the webhooks land in one batch, or neither does.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { diskFullEnv } from '../fixtures/disk-full.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'

const TOKEN = 'pinery_demote-disk-full-admin'
const json = { 'content-type': 'application/json' }
/** Bytes the disk takes once full: the user's new role (~150 bytes in LevelDB's log), not a webhook after it. */
const ROOM = '250'

let dir: string | undefined
let server: ServerProcess | undefined
let receiver: Receiver | undefined
afterAll(async () => {
  await server?.stop()
  await receiver?.kill()
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

describe('demoting an admin while the disk runs full', () => {
  it('never leaves a member with an enabled node-wide webhook', async () => {
    const base = dir = await mkdtemp(join(tmpdir(), 'pinery-demote-full-'))
    const rx = receiver = await startReceiver(join(base, 'received.log'))
    const dataDir = join(base, 'data')
    const cue = join(base, 'full')
    const env = { ...serverEnv(dataDir, TOKEN), PINERY_WEBHOOK_ALLOW: '127.0.0.1' }
    server = await startServerProcess({
      ...env,
      ...await diskFullEnv(dataDir, cue)
    })
    const call = async (method: string, path: string, secret: string, body?: unknown): Promise<Response> =>
      await fetch(`${(server as ServerProcess).url}${path}`, {
        method,
        headers: { ...json, authorization: `Bearer ${secret}` },
        ...(body != null ? { body: JSON.stringify(body) } : {})
      })
    const pin = async (name: string): Promise<void> => {
      expect((await call('POST', '/pins', TOKEN, { cid: 'bafkqaaa', name })).status).toBe(202)
    }
    const got = async (name: string): Promise<boolean> =>
      (await rx.received()).some(r => r.body.includes(name))
    expect((await call('POST', '/users', TOKEN, { name: 'carol', role: 'admin' })).status).toBe(201)
    const carol = await (await call('POST', '/users/carol/tokens', TOKEN, { scope: 'admin' })).json() as {
      secret: string
    }
    const target = { url: `${rx.url}/all`, events: ['pin.pinned'], all: true }
    expect((await call('POST', '/webhooks', carol.secret, target)).status).toBe(201)
    await pin('before-demotion')
    for (let i = 0; i < 100 && !await got('before-demotion'); i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(await got('before-demotion')).toBe(true)

    await writeFile(cue, ROOM)
    const demoted = await call('PATCH', '/users/carol', TOKEN, { role: 'member' })
    await rm(cue)
    // Once the datastore has room again, as an operator would: asked again while the user still shows as an admin.
    for (let i = 0; i < 100; i++) {
      if ((await call('POST', '/pins', TOKEN, { cid: 'bafkqaaa', name: 'probe' })).status === 202) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    let role = (await (await call('GET', '/users/carol', TOKEN)).json() as { role: string }).role
    if (role === 'admin') {
      expect(demoted.status).not.toBe(200)
      const again = await call('PATCH', '/users/carol', TOKEN, { role: 'member' })
      role = (await again.json() as { role: string }).role
    }
    expect(role).toBe('member')

    expect(await server.stop()).toBe(0)
    server = await startServerProcess(env)
    await pin('after-demotion')
    await pin('marker')
    await new Promise(resolve => setTimeout(resolve, 2000))
    expect(await got('after-demotion')).toBe(false)
  })
})
