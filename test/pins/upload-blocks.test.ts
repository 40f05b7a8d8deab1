/**
 * The stored block lists of CAR uploads, on a real LevelDB: what `save` took comes back from `read`
 * (sha2-256 and sha2-512 multihashes, past one chunk), `forget` drops exactly one list, `ids` names each.
 * The requests of an open upload, named in their creation batches, are listed until it is closed.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { blockKey } from '../../src/pins/gc-guard.js'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'

describe('upload block lists', () => {
  let core: PinCore | undefined
  afterEach(async () => { await core?.destroy() })

  it('keeps each upload\'s blocks until forgotten', async () => {
    core = await openPinCore()
    const keys: string[] = []
    for (let i = 0; i < 9000; i++) {
      const bytes = new TextEncoder().encode(`block ${i}`)
      const hasher = i % 3 === 0 ? sha512 : sha256
      keys.push(blockKey(CID.createV1(raw.code, await hasher.digest(bytes))))
    }
    const big = await core.uploads.save(keys)
    const small = await core.uploads.save(keys.slice(0, 1))
    const none = await core.uploads.save([])
    expect(await core.uploads.read(big)).toEqual(keys)
    expect(await core.uploads.read(small)).toEqual(keys.slice(0, 1))
    expect(await core.uploads.read(none)).toEqual([])
    const ids: string[] = []
    for await (const id of core.uploads.ids()) ids.push(id)
    expect(ids.sort()).toEqual([big, small, none].sort())
    await core.uploads.forget(big)
    expect(await core.uploads.read(big)).toEqual([])
    expect(await core.uploads.read(small)).toEqual(keys.slice(0, 1))
  })

  it('names the requests of an open upload, in their creation batches, until closed', async () => {
    core = await openPinCore()
    const { lifecycle, uploads } = core
    const cid = (i: number): CID => CID.createV1(raw.code, identity.digest(new TextEncoder().encode(`${i}`)))
    const a = core.record('alice', cid(1))
    const b = core.record('bob', cid(2))
    const c = core.record('bob', cid(3))
    await lifecycle.create(a, [uploads.opening('one', 'alice', a.requestid)])
    await lifecycle.create(b, [uploads.opening('two', 'bob', b.requestid)])
    await lifecycle.create(c, [uploads.opening('two', 'bob', c.requestid)])
    await uploads.save(['AAAA'], 'one')
    expect(await uploads.opened('one')).toEqual([{ owner: 'alice', requestid: a.requestid }])
    const open: Array<{ id: string, requests: unknown[] }> = []
    for await (const upload of uploads.unclosed()) open.push(upload)
    expect(open).toEqual([
      { id: 'one', requests: [{ owner: 'alice', requestid: a.requestid }] },
      { id: 'two', requests: [b, c].map(r => ({ owner: 'bob', requestid: r.requestid })).sort((x, y) =>
        x.requestid.localeCompare(y.requestid)) }
    ])
    await uploads.close('two')
    expect(await uploads.opened('two')).toEqual([])
    const ids: string[] = []
    for await (const id of uploads.ids()) ids.push(id)
    expect(ids).toEqual(['one'])
  })
})
