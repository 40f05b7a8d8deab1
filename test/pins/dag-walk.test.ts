/**
 * The wide DAG walker on a real UnixFS DAG: every distinct block exactly
 * once, and lost requests re-issued after a quiet spell.
 */
import { randomBytes } from 'node:crypto'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { MemoryBlockstore } from 'blockstore-core/memory'
import toBuffer from 'it-to-buffer'
import last from 'it-last'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { describe, expect, it } from 'vitest'
import { walkDag, type DagWalkComponents } from '../../src/pins/dag-walk.js'
import { networkBlockSource } from '../../src/pins/dag-walk-sources.js'
import { waitFor } from '../fixtures/service.js'
import type { CID } from 'multiformats/cid'

async function dag (bytes: Uint8Array): Promise<{ root: CID, store: MemoryBlockstore }> {
  const store = new MemoryBlockstore()
  const entry = await last(importer([{ content: bytes }], store, {
    chunker: fixedSize({ chunkSize: 1024 }), rawLeaves: true, cidVersion: 1
  }))
  if (entry == null) throw new Error('nothing imported')
  return { root: entry.cid, store }
}

function source (
  store: MemoryBlockstore,
  lose: (cid: CID, attempt: number) => boolean
): DagWalkComponents & { attempts: Map<string, number> } {
  const attempts = new Map<string, number>()
  return {
    attempts,
    async getCodec (code) { return (code === raw.code ? raw : dagPb) as never },
    async getBlock (cid, { signal }) {
      const n = (attempts.get(cid.toString()) ?? 0) + 1
      attempts.set(cid.toString(), n)
      if (lose(cid, n)) {
        // A lost want: never answered, only aborted.
        return await new Promise((_resolve, reject) =>
          signal?.addEventListener('abort', () => { reject(new Error('Want was aborted')) }))
      }
      return await toBuffer(store.get(cid))
    }
  }
}

describe('walkDag', () => {
  it('visits every distinct block once and sums their sizes', async () => {
    // 64 identical chunks and 64 random ones: duplicates are fetched once.
    const { root, store } = await dag(Buffer.concat([Buffer.alloc(64 * 1024), randomBytes(64 * 1024)]))
    let stored = 0
    let count = 0
    for await (const { bytes } of store.getAll()) { count++; stored += (await toBuffer(bytes)).byteLength }
    const src = source(store, () => false)
    const result = await walkDag(root, src, { concurrency: 16 })
    expect(result.blocks.length).toBe(count)
    expect(result.bytes).toBe(stored)
    expect([...src.attempts.values()].every(n => n === 1)).toBe(true)
  })

  it('re-requests lost blocks after a quiet spell and completes', async () => {
    const { root, store } = await dag(randomBytes(200 * 1024))
    const lost = new Set<string>()
    const src = source(store, (cid, attempt) => {
      if (attempt === 1 && cid.code === raw.code && lost.size < 3) { lost.add(cid.toString()); return true }
      return lost.has(cid.toString()) && attempt === 1
    })
    const result = await walkDag(root, src, { concurrency: 32, rewantAfterMs: 100 })
    expect(result.blocks.length).toBe([...src.attempts.keys()].length)
    expect(lost.size).toBe(3)
    for (const cid of lost) expect(src.attempts.get(cid)).toBe(2)
  })

  it('without re-wanting, a lost block stalls the walk until its signal aborts it', async () => {
    const { root, store } = await dag(randomBytes(20 * 1024))
    let lost: CID | undefined
    const src = source(store, (cid) => {
      if (lost == null && cid.code === raw.code) { lost = cid; return true }
      return false
    })
    const started = performance.now()
    const walk = walkDag(root, src, { concurrency: 8, signal: AbortSignal.timeout(500) })
    // It ends only when the signal aborts the lost want, with the signal's reason; the want was asked for once.
    await expect(walk).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(performance.now() - started).toBeGreaterThanOrEqual(450)
    expect(src.attempts.get(String(lost))).toBe(1)
  })
})

describe('walkDag aborts', () => {
  it('ends when aborted even if the source ignores its signal', async () => {
    const { root, store } = await dag(randomBytes(20 * 1024))
    // A bitswap send that never returns: the request neither answers nor hears the abort.
    const hung = { ...source(store, () => false), getBlock: async () => await new Promise<Uint8Array>(() => {}) }
    const controller = new AbortController()
    const walk = walkDag(root, hung, { concurrency: 8, signal: controller.signal })
    setTimeout(() => { controller.abort(new Error('stalled')) }, 50)
    await expect(walk).rejects.toThrow('stalled')
  }, 5000)

  it('settles when aborted while re-wanting, instead of re-wanting forever', async () => {
    const { root, store } = await dag(randomBytes(20 * 1024))
    // Every leaf request is lost: the walk can only end through its signal.
    const src = source(store, (cid) => cid.code === raw.code)
    const controller = new AbortController()
    const walk = walkDag(root, src, { concurrency: 8, rewantAfterMs: 20, signal: controller.signal })
    // Abort inside a re-want pause: after some re-wants have happened.
    await new Promise(resolve => setTimeout(resolve, 120))
    controller.abort(new Error('stalled'))
    const attemptsAtAbort = [...src.attempts.values()].reduce((a, b) => a + b, 0)
    await expect(walk).rejects.toThrow('stalled')
    await new Promise(resolve => setTimeout(resolve, 200))
    expect([...src.attempts.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(attemptsAtAbort + 8)
  })

  it('wants a block\'s children while its own file is being written, and ends only once it is written', async () => {
    // 64 leaves of 1 KiB under one root; the root's write is held until the test lets it go.
    const { root, store } = await dag(randomBytes(64 * 1024))
    const local = new MemoryBlockstore()
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    const blockstore = {
      has: local.has.bind(local),
      get: local.get.bind(local),
      put: async (cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }) => {
        if (cid.equals(root)) await held
        return await local.put(cid, bytes, options)
      }
    }
    const wanted: CID[] = []
    const src = networkBlockSource({
      blockstore,
      getCodec: async (code) => (code === raw.code ? raw : dagPb) as never,
      want: async (cid) => { wanted.push(cid); return await toBuffer(store.get(cid)) }
    })
    let ended = false
    const walk = walkDag(root, src, { concurrency: 16 }).finally(() => { ended = true })
    // Every leaf is wanted and stored while the root's write is still held (before: only the root was wanted).
    await waitFor(async () => wanted.length === 65 ? true : undefined, 5_000, 'the leaves wanted')
    await waitFor(async () => (await Promise.all(wanted.slice(1).map(async c => await local.has(c)))).every(Boolean)
      ? true
      : undefined, 5_000, 'the leaves stored')
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(ended).toBe(false)
    release()
    const result = await walk
    expect(result.blocks).toHaveLength(65)
    expect(await local.has(root)).toBe(true)
  })
})
