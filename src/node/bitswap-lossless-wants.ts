/**
 * Makes bitswap wants lossless. @helia/bitswap's WantList.addEntry adds a
 * want, then awaits the in-flight wantlist send before it listens for the
 * block; a block arriving in that gap is dropped and the want is cancelled,
 * and a sending Helia will not resend it for 5 s. This listens to the
 * WantList's 'block' events from the start and resolves waiting wants from
 * them, whichever listener hears the block first. Upstream code:
 * https://github.com/ipfs/helia/blob/main/packages/bitswap/src/want-list.ts
 * (`addEntry`); delete this module once it listens before it sends.
 */
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'

/** What the catcher needs: bitswap's retrieve, and (if reachable) its event source. */
export interface BlockCatcherComponents {
  retrieve(cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array>
  /** Emits 'block' events with `{ cid, block }` for every block received. */
  blockEvents?: EventTarget
}

type Waiter = (block: Uint8Array) => void

/** Returns a `want` that never misses a block bitswap received while it waited. */
export function createBlockCatcher (
  components: BlockCatcherComponents
): (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array> {
  const { retrieve, blockEvents } = components
  if (blockEvents == null) return retrieve
  const waiters = new Map<string, Set<Waiter>>()
  const key = (cid: CID): string => base64.encode(cid.multihash.bytes)

  blockEvents.addEventListener('block', (evt) => {
    const detail = (evt as CustomEvent<{ cid: CID, block: Uint8Array }>).detail
    const set = waiters.get(key(detail.cid))
    if (set == null) return
    for (const resolve of set) resolve(detail.block)
  })

  return async (cid, options) => {
    const k = key(cid)
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort(options.signal?.reason) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    let waiter: Waiter | undefined
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        waiter = resolve
        let set = waiters.get(k)
        if (set == null) { set = new Set(); waiters.set(k, set) }
        set.add(resolve)
        retrieve(cid, { signal: controller.signal }).then(resolve, reject)
      })
    } finally {
      const set = waiters.get(k)
      if (waiter != null) set?.delete(waiter)
      if (set?.size === 0) waiters.delete(k)
      options.signal?.removeEventListener('abort', onAbort)
      // Ends bitswap's own want if our listener answered first (its listener may never fire).
      controller.abort()
    }
  }
}
