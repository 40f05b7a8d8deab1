/**
 * A CAR of many roots makes one request per root, one after another. Killed (SIGKILL) after some were
 * written but before its answer, the client learned of none of them and sends the CAR again: the requests
 * of the first attempt stayed, so each of those roots had two requests, charged twice against the quota
 * (a user with room for the CAR's roots once was refused the retry). The next start now removes the
 * requests of an upload that was never answered, each with its pin.deleted event.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { carOf } from '../fixtures/content.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { openSse } from '../fixtures/sse.js'

const TOKEN = 'pinery_car-kill-midway-admin'
const ROOTS = 1000
type Block = { cid: CID, bytes: Uint8Array }

const rawBlock = async (text: string): Promise<Block> => {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** ROOTS roots: first a dag-cbor node whose child the CAR lacks (answered queued), then whole raw blocks. */
async function manyRoots (): Promise<Uint8Array> {
  const absent = await rawBlock('not in the CAR')
  const bytes = dagCbor.encode({ child: absent.cid })
  const parent = { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
  const leaves = await Promise.all(Array.from({ length: ROOTS - 1 }, async (_, i) => await rawBlock(`root ${i}`)))
  return await carOf([parent.cid, ...leaves.map(b => b.cid)], [parent, ...leaves])
}

describe('a multi-root CAR upload killed before its answer', () => {
  let dataDir: string
  let server: ServerProcess | undefined
  beforeAll(async () => { dataDir = await mkdtemp(join(tmpdir(), 'pinery-car-kill-')) })
  afterAll(async () => {
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  const env = (): Record<string, string> => ({ ...serverEnv(dataDir, TOKEN), PINERY_STALL_TIMEOUT_MS: '600000' })
  const call = async (path: string, init: RequestInit & { token?: string } = {}): Promise<Response> => {
    const { token = TOKEN, headers, ...rest } = init
    return await fetch(`${server?.url}${path}`, {
      ...rest, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }
    })
  }
  const count = async (token: string): Promise<number> => {
    const res = await call('/pins?status=queued,pinning,pinned,failed&limit=1', { token })
    return (await res.json() as { count: number }).count
  }
  const upload = async (token: string, car: Uint8Array): Promise<Response> => await call('/content', {
    method: 'POST', token, headers: { 'content-type': 'application/vnd.ipld.car' }, body: car
  })

  it('leaves no request of it after the restart, and the retry makes each once', async () => {
    server = await startServerProcess(env())
    // Room for the CAR's roots once: a retry charged twice is refused.
    const carolQuota = JSON.stringify({ name: 'carol', quota: { pins: ROOTS } })
    expect((await call('/users', { method: 'POST', body: carolQuota })).status).toBe(201)
    const tokenRes = await call('/users/carol/tokens', { method: 'POST', body: '{}' })
    const carol = (await tokenRes.json() as { secret: string }).secret
    const car = await manyRoots()

    let answered = false
    const first = upload(carol, car).then(() => { answered = true }, () => {})
    const deadline = Date.now() + 30_000
    while (await count(carol) < 20) {
      if (Date.now() > deadline) throw new Error('no request was made')
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    server.child.kill('SIGKILL')
    await once(server.child, 'exit')
    await first
    expect(answered).toBe(false)

    server = await startServerProcess(env())
    expect(await count(carol)).toBe(0)
    // Nothing of it is charged either (bytes of the roots pinned from the CAR included).
    const usage = await (await call('/usage', { token: carol })).json() as { bytes: number, cids: number }
    expect({ bytes: usage.bytes, cids: usage.cids }).toEqual({ bytes: 0, cids: 0 })
    // Each request the killed upload made is reported deleted.
    const events = await openSse(`${server.url}/events?after=0`, { authorization: `Bearer ${carol}` })
    const requestOf = (data: string): string => (JSON.parse(data) as { pin: { requestid: string } }).pin.requestid
    const made = (): Set<string> => new Set(events.frames.map(f => requestOf(f.data)))
    const deleted = (): Set<string> =>
      new Set(events.frames.filter(f => f.event === 'pin.deleted').map(f => requestOf(f.data)))
    await events.until(frames => frames.length > 0 && made().size === deleted().size)
    expect(made().size).toBeGreaterThanOrEqual(20)
    events.close()

    const retry = await upload(carol, car)
    expect(retry.status).toBe(202)
    expect((await retry.json() as { count: number }).count).toBe(ROOTS)
    expect(await count(carol)).toBe(ROOTS)
  }, 120_000)
})
