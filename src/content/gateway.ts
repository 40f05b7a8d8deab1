/**
 * The read side of /ipfs/{cid}[/path]: only DAGs this node pins (any
 * request's; bitswap serves the same blocks to any peer anyway) and only
 * from the local blockstore, so a read never fetches from the network. Paths
 * resolve through UnixFS directories (HAMT-sharded ones too) with
 * ipfs-unixfs-exporter; CARs stream depth-first, one block in memory.
 */
import { exporter, walkPath, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import toBuffer from 'it-to-buffer'
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { NotFoundError } from '../errors.js'
import { blockKey } from '../pins/block-guard.js'
import { writeCar } from './car.js'
import type { Gateway, GatewayEntry } from './index.js'
import type { DagWalkComponents } from '../pins/dag-walk.js'
import type { DagPins } from '../pins/dag-pins.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** What the gateway reads. */
export interface GatewayComponents {
  /** The local blockstore; identity CIDs need not be stored. */
  blockstore: Pick<Blockstore, 'get'>
  getCodec: DagWalkComponents['getCodec']
  /** Whether a block belongs to a pinned DAG. */
  pins: Pick<DagPins, 'isPinned'>
}

const IDENTITY = 0x00
// The exporter's and the blockstore's ways of saying "no such thing".
const MISSING = new Set(['NotFoundError', 'NoResolverError', 'NotUnixFSError', 'BadPathError'])

function toEntry (entry: UnixFSEntry, name: string): GatewayEntry {
  const { cid } = entry
  switch (entry.type) {
    case 'directory':
      return {
        type: 'directory',
        cid,
        name,
        async * list (options) {
          for await (const child of entry.entries(options)) yield { name: child.name, cid: child.cid, size: Number(child.size) }
        }
      }
    case 'object':
      return { type: 'object', cid, name, bytes: entry.node }
    default:
      return {
        type: 'file',
        cid,
        name,
        size: Number(entry.size),
        read: (range, options) => entry.content({ ...range, ...options })
      }
  }
}

/** Creates the gateway reader. */
export function createGateway (components: GatewayComponents): Gateway {
  const { blockstore } = components

  async function block (cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array> {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest
    return await toBuffer(blockstore.get(cid, options))
  }

  /** The DAG under `target` depth-first, each block once; identity blocks carry themselves and are left out. */
  async function * dagBlocks (target: CID, seen: Set<string>, options: { signal?: AbortSignal }): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
    const stack: CID[] = [target]
    for (let cid = stack.pop(); cid != null; cid = stack.pop()) {
      const key = blockKey(cid)
      if (seen.has(key)) continue
      seen.add(key)
      options.signal?.throwIfAborted()
      const bytes = await block(cid, options)
      if (cid.multihash.code !== IDENTITY) yield { cid, bytes }
      if (cid.code === raw.code) continue
      const links = [...createUnsafe({ bytes, cid, codec: await components.getCodec(cid.code) }).links()]
      for (let i = links.length - 1; i >= 0; i--) stack.push((links[i] as [string, CID])[1])
    }
  }

  return {
    async resolve (root, path, options) {
      // An identity root holds itself; unless raw, it may link to anything, pinned or not.
      const served = root.multihash.code === IDENTITY ? root.code === raw.code : await components.pins.isPinned(root, options)
      if (!served) throw new NotFoundError(`${root.toString()} is not pinned here`)
      try {
        let last: { cid: CID, name: string, roots: CID[] } | undefined
        for await (const step of walkPath([root.toString(), ...path].join('/'), blockstore, options)) last = step
        if (last == null) throw new NotFoundError('empty path')
        const entry = await exporter(last.cid, blockstore, options)
        // The name the path gave it (the exporter, asked by CID, would name it by its CID).
        return { entry: toEntry(entry, path.length > 0 ? last.name : ''), trail: last.roots }
      } catch (err) {
        // A pinned block that is not UnixFS is still served, as its own bytes (raw, CAR or as is).
        if (path.length === 0 && err instanceof Error && err.name === 'NotUnixFSError') {
          return { entry: { type: 'object', cid: root, name: '', bytes: await block(root, options) }, trail: [] }
        }
        if (err instanceof Error && MISSING.has(err.name)) throw new NotFoundError(`${['', 'ipfs', root.toString(), ...path].join('/')} names nothing: ${err.message}`)
        throw err
      }
    },

    block,

    async * car (root, trail, target, options) {
      const seen = new Set<string>()
      const blocks = async function * (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
        // The path's nodes first, so a client can verify the way from the root to the target.
        for (const cid of trail) {
          if (cid.equals(target) || seen.has(blockKey(cid))) continue
          seen.add(blockKey(cid))
          if (cid.multihash.code !== IDENTITY) yield { cid, bytes: await block(cid, options) }
        }
        yield * dagBlocks(target, seen, options)
      }
      yield * writeCar([root], blocks())
    }
  }
}
