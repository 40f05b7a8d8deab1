/**
 * The block catcher answers a want from bitswap's block events even when
 * bitswap's own listener missed the block, and then ends that want.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createBlockCatcher } from '../../src/node/bitswap-lossless-wants.js'

async function block (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('block catcher', () => {
  it('resolves from a block event when the want itself never answers, then aborts the want', async () => {
    const events = new EventTarget()
    const { cid, bytes } = await block('hello')
    let aborted = false
    const want = createBlockCatcher({
      blockEvents: events,
      retrieve: async (_cid, { signal }) => await new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => { aborted = true; reject(new Error('Want was aborted')) })
      })
    })
    const pending = want(cid, {})
    // Another CID's block does not answer this want.
    events.dispatchEvent(new CustomEvent('block', {
      detail: { cid: (await block('other')).cid, block: new Uint8Array([1]) }
    }))
    events.dispatchEvent(new CustomEvent('block', { detail: { cid, block: bytes } }))
    expect(await pending).toBe(bytes)
    expect(aborted).toBe(true)
  })

  it('passes the caller\'s abort through', async () => {
    const { cid } = await block('never')
    const want = createBlockCatcher({
      blockEvents: new EventTarget(),
      retrieve: async (_cid, { signal }) => await new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => { reject(signal.reason) })
      })
    })
    await expect(want(cid, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' })
  })
})
