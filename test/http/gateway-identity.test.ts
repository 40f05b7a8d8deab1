/**
 * A raw identity CID (`bafkqa…`) holds its own bytes. The gateway served any such root, pinned or not, so
 * anyone who may read it (anyone, with PINERY_GATEWAY_AUTH=none) made Pinery's origin show ~1 KB of their
 * own HTML. Now it is served only while a pin request names it, like every other root; identity blocks
 * inside a pinned DAG are reached by path as before.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { carOf, postContent } from '../fixtures/content.js'
import { startService, type TestService } from '../fixtures/service.js'

let svc: TestService
beforeAll(async () => {
  svc = await startService({ users: ['alice', 'bob'], env: { PINERY_GATEWAY_AUTH: 'none' } })
})
afterAll(async () => { await svc?.destroy() })

const inline = (text: string): CID => CID.createV1(raw.code, identity.digest(new TextEncoder().encode(text)))

describe('a raw identity root at the gateway', () => {
  it('is not served while no pin request names it, to anyone', async () => {
    const cid = inline('<!doctype html><h1>Pinery has moved: paste your token at evil.example</h1>')
    for (const user of [null, 'alice']) {
      for (const query of ['', '?format=raw', '?format=car']) {
        const res = await svc.request(`/ipfs/${cid.toString()}${query}`, { user })
        expect(res.status, `${user ?? 'anyone'} ${query}`).toBe(404) // old code: 200, text/html for ''
        expect(await res.json()).toMatchObject({ error: { reason: 'NOT_FOUND' } })
      }
    }
  })

  it('is served while a pin request names it, and no longer once it is deleted', async () => {
    const cid = inline('hello from a pinned identity CID')
    const made = await svc.call('POST', '/pins', 'bob', { cid: cid.toString(), name: 'inline' })
    expect(made.status).toBe(202)
    const { requestid } = await made.json() as { requestid: string }
    const res = await svc.request(`/ipfs/${cid.toString()}`, { user: null })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hello from a pinned identity CID')
    expect((await svc.request(`/ipfs/${cid.toString()}?format=raw`, { user: null })).status).toBe(200)
    expect((await svc.call('DELETE', `/pins/${requestid}`, 'bob')).status).toBe(202)
    expect((await svc.request(`/ipfs/${cid.toString()}`, { user: null })).status).toBe(404)
  })

  it('is still reached inside a pinned DAG', async () => {
    const page = inline('an identity leaf inside a pinned directory')
    const bytes = dagPb.encode(dagPb.prepare({
      Data: new UnixFS({ type: 'directory' }).marshal(),
      Links: [{ Name: 'inline.txt', Hash: page, Tsize: 42 }]
    }))
    const dir = CID.createV1(dagPb.code, await sha256.digest(bytes))
    const up = await postContent(svc, await carOf([dir], [{ cid: dir, bytes }]), { type: 'application/vnd.ipld.car' })
    expect(up.status).toBeLessThan(300)
    const res = await svc.request(`/ipfs/${dir.toString()}/inline.txt`, { user: null })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('an identity leaf inside a pinned directory')
    const listing = await (await svc.request(`/ipfs/${dir.toString()}`, { user: null })).json()
    expect(listing).toMatchObject({ entries: [{ name: 'inline.txt', cid: page.toString() }] })
    expect((await svc.request(`/ipfs/${dir.toString()}?format=car`, { user: null })).status).toBe(200)
  })
})
