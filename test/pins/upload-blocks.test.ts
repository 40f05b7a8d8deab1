/**
 * The stored block lists of CAR uploads, on a real LevelDB: what `save` took comes back from `read`
 * (sha2-256 and sha2-512 multihashes, past one chunk), `forget` drops exactly one list, `ids` names each.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
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
})
