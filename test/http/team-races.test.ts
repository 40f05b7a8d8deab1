/**
 * Team administration and quotas under concurrency: requests at a limit
 * arriving together, a user deleted while their requests keep arriving,
 * concurrent changes to one user, and a pending replacement whose held DAG
 * still counts against the quota.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dagSizeIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import type { CID } from 'multiformats/cid'

const MIB = 1024 * 1024
const JSON_HEADERS = { 'content-type': 'application/json' }

describe('team races', () => {
  let service: TestService
  let origins: Origin[]
  let a: { cid: CID, size: number }
  let b: { cid: CID, size: number }

  beforeEach(async () => {
    origins = await Promise.all([startOrigin(), startOrigin()])
    ;[a, b] = await Promise.all(origins.map(async o => {
      const { cid } = await o.addRandomFile(2)
      return { cid, size: await dagSizeIn(o.blockstore) }
    })) as [typeof a, typeof b]
    service = await startService({ users: ['alice', 'bob'], quotas: { alice: { bytes: 3 * MIB } } })
  })
  afterEach(async () => {
    await service.destroy()
    await Promise.all(origins.map(async o => { await o.stop() }))
  })

  const post = async (user: string, cid: CID | string, origin?: Origin): Promise<Response> =>
    await service.request('/pins', {
      method: 'POST',
      user,
      headers: JSON_HEADERS,
      body: JSON.stringify({ cid: cid.toString(), ...(origin != null ? { origins: origin.addrs } : {}) })
    })
  const settled = async (user: string, requestid: string): Promise<string> =>
    await waitFor(async () => {
      const s = await (await service.request(`/pins/${requestid}`, { user })).json() as { status: string }
      return s.status === 'pinned' || s.status === 'failed' ? s.status : undefined
    }, 30_000, `${requestid} settled`)
  const pinAs = async (user: string, cid: CID, origin?: Origin): Promise<string> => {
    const res = await post(user, cid, origin)
    expect(res.status).toBe(202)
    return await settled(user, (await res.json() as { requestid: string }).requestid)
  }
  /** Sends requests at once and checks they were in flight together: all sent before any was answered. */
  const together = async (requests: Array<() => Promise<Response>>): Promise<Response[]> => {
    const times: Array<{ sent: number, answered: number }> = []
    const answers = await Promise.all(requests.map(async send => {
      const sent = performance.now()
      const res = await send()
      times.push({ sent, answered: performance.now() })
      return res
    }))
    expect(Math.max(...times.map(t => t.sent))).toBeLessThan(Math.min(...times.map(t => t.answered)))
    return answers
  }
  const usage = async (user: string): Promise<{ bytes: number, pins: Record<string, number> }> =>
    await (await service.request('/usage', { user })).json() as { bytes: number, pins: Record<string, number> }

  it('requests for DAGs pinned already, arriving together, stay within the byte quota', async () => {
    expect(await pinAs('bob', a.cid, origins[0])).toBe('pinned')
    expect(await pinAs('bob', b.cid, origins[1])).toBe('pinned')
    const answers = await together([async () => await post('alice', a.cid), async () => await post('alice', b.cid)])
    expect(answers.map(r => r.status)).toEqual([202, 202])
    const statuses = await Promise.all(answers.map(async r => (await r.json() as { status: string }).status))
    expect(statuses.sort()).toEqual(['failed', 'pinned'])
    expect((await usage('alice')).bytes).toBeLessThanOrEqual(3 * MIB)
  })

  it('a replacement still waiting for its DAG keeps the replaced DAG charged', async () => {
    expect(await pinAs('bob', b.cid, origins[1])).toBe('pinned')
    const pinned = await post('alice', a.cid, origins[0])
    const { requestid } = await pinned.json() as { requestid: string }
    expect(await settled('alice', requestid)).toBe('pinned')
    // A CID nobody provides: the replacement stays pinning and holds A.
    const replaced = await service.request(`/pins/${requestid}`, {
      method: 'POST',
      user: 'alice',
      headers: JSON_HEADERS,
      body: JSON.stringify({ cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' })
    })
    expect(replaced.status).toBe(202)
    expect((await usage('alice')).bytes).toBe(a.size)
    const refused = await post('alice', b.cid)
    expect(refused.status).toBe(409)
    expect(await refused.json()).toMatchObject({ error: { reason: 'INSUFFICIENT_FUNDS' } })
  })

  it('a user deleted while their requests keep arriving leaves nothing to a new user of that name', async () => {
    const oldSecret = service.tokens.alice as string
    let done = false
    const sent: Array<{ at: number, answered: number, status: number }> = []
    const posters = Array.from({ length: 10 }, async () => {
      while (!done) {
        const at = performance.now()
        const res = await post('alice', 'bafkqaaa')
        await res.arrayBuffer()
        sent.push({ at, answered: performance.now(), status: res.status })
        if (res.status === 401) return
      }
    })
    await waitFor(async () => ((await usage('alice')).pins.pinned ?? 0) > 20 ? true : undefined, 10_000,
      'pins arriving')
    const deleting = performance.now()
    const deleted = await service.request('/users/alice?remove_pins=true', { method: 'DELETE' })
    const deletedAt = performance.now()
    expect(deleted.status).toBe(200)
    done = true
    await Promise.all(posters)
    // The race happened: requests were sent and answered while the deletion was in progress.
    expect(sent.filter(s => s.at > deleting && s.answered < deletedAt).length).toBeGreaterThanOrEqual(1)
    const recreated = await service.request('/users',
      { method: 'POST', headers: JSON_HEADERS, body: '{"name":"alice"}' })
    expect(recreated.status).toBe(201)
    const again = await (await service.request('/users/alice')).json() as { usage: { pins: Record<string, number> } }
    expect(again.usage.pins).toEqual({ queued: 0, pinning: 0, pinned: 0, failed: 0 })
    expect((await service.request('/pins', { user: oldSecret })).status).toBe(401)
  })

  it('concurrent changes to one user are all kept', async () => {
    for (let i = 0; i < 10; i++) {
      const patch = (changes: unknown) => async () =>
        await service.request('/users/bob', { method: 'PATCH', headers: JSON_HEADERS, body: JSON.stringify(changes) })
      await together([patch({ role: i % 2 === 0 ? 'admin' : 'member' }), patch({ quota: { pins: i } })])
      expect(await (await service.request('/users/bob')).json())
        .toMatchObject({ role: i % 2 === 0 ? 'admin' : 'member', quota: { pins: i } })
    }
    const create = async (): Promise<Response> =>
      await service.request('/users', { method: 'POST', headers: JSON_HEADERS, body: '{"name":"carol"}' })
    const creates = await together([create, create, create])
    expect(creates.map(r => r.status).sort()).toEqual([201, 409, 409])
  })
})
