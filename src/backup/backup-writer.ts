/**
 * Writes a backup archive (see archive.ts) of a data dir the service is using: every datastore key from one
 * LevelDB snapshot, then every block file, with garbage collection held so no block a snapshot's pin names
 * can be deleted before it is copied. Blocks stored after the snapshot may come along too; they are garbage
 * in the restored node and its collector removes them. Nothing is written to the data dir.
 */
import toBuffer from 'it-to-buffer'
import { pack, type Pack } from 'tar-stream'
import {
  BACKUP_FORMAT, BLOCKS_DIR, chunkName, KvChunker, MANIFEST, TRAILER, type BackupManifest, type BackupTrailer
} from './archive.js'
import type { GarbageCollector } from '../pins/gc.js'
import type { Blockstore } from 'interface-blockstore'
import type { Level } from 'level'

/** Who made the backup. */
export interface BackupWriterInit {
  pineryVersion: string
}

/** What a backup reads. */
export interface BackupWriterComponents {
  /** The data dir's LevelDB: iterated from one snapshot. */
  db: Pick<Level<string, Uint8Array>, 'iterator'>
  /** Lists and reads every stored block (the blockstore owns their layout on disk). */
  blockstore: Pick<Blockstore, 'getAll'>
  /** The running service's collector (none offline: nothing else runs on a stopped data dir). */
  gc?: Pick<GarbageCollector, 'hold'>
}

/** Makes backup archives. */
export interface BackupWriter {
  /**
   * The archive as a tar stream, written as it is read (backpressure holds the reads); errors and an abort
   * destroy the stream. Resolves with it once garbage collection is held and the snapshot is taken.
   */
  archive(options?: { signal?: AbortSignal }): Promise<Pack>
}

/**
 * Adds one entry and waits until the pack has taken it (the consumer's backpressure reaches here), or rejects
 * with `closed` when the consumer went away (a client that hung up: its entry would never be taken).
 */
async function entry (tar: Pack, closed: Promise<never>, name: string, bytes: Uint8Array): Promise<void> {
  await Promise.race([closed, new Promise<void>((resolve, reject) => {
    tar.entry({ name, size: bytes.byteLength, mode: 0o600, mtime: new Date(0) }, bytes,
      (err) => { if (err != null) reject(err); else resolve() })
      // The callback has the error: tar-stream also emits it on the entry when the pack is destroyed with one
      // (its consumer failed: a full disk, a closed pipe), and unhandled there it crashed the process.
      .on('error', () => {})
  })])
}

/** Creates a writer. */
export function createBackupWriter (init: BackupWriterInit, components: BackupWriterComponents): BackupWriter {
  return {
    async archive (options = {}) {
      const release = await components.gc?.hold() ?? (() => {})
      // Created now, so its snapshot is taken with the hold in place.
      const iterator = components.db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' })
      const tar = pack()
      const closed = new Promise<never>((_resolve, reject) => {
        tar.once('close', () => { reject(new Error('the backup stream was closed before its end')) })
      })
      closed.catch(() => {})
      const trailer: BackupTrailer = { keys: 0, blocks: 0, blockBytes: 0 }
      const write = async (): Promise<void> => {
        const manifest: BackupManifest = {
          format: BACKUP_FORMAT, createdAt: new Date().toISOString(), pineryVersion: init.pineryVersion
        }
        await entry(tar, closed, MANIFEST, Buffer.from(JSON.stringify(manifest)))
        const chunker = new KvChunker()
        let chunks = 0
        for await (const [key, value] of iterator as AsyncIterable<[Buffer, Buffer]>) {
          options.signal?.throwIfAborted()
          trailer.keys++
          const chunk = chunker.add(key, value)
          if (chunk != null) await entry(tar, closed, chunkName(++chunks), chunk)
        }
        const last = chunker.flush()
        if (last != null) await entry(tar, closed, chunkName(++chunks), last)
        for await (const { cid, bytes } of components.blockstore.getAll({ signal: options.signal })) {
          let block: Uint8Array
          try {
            block = await toBuffer(bytes)
          } catch (err) {
            // Listed, then gone: not a block the snapshot names (the hold keeps those), so not needed.
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
            throw err
          }
          trailer.blocks++
          trailer.blockBytes += block.byteLength
          await entry(tar, closed, `${BLOCKS_DIR}${cid.toString()}`, block)
        }
        await entry(tar, closed, TRAILER, Buffer.from(JSON.stringify(trailer)))
        tar.finalize()
      }
      write().catch((err: Error) => { tar.destroy(err) }).finally(() => {
        release()
        iterator.close().catch(() => {})
      })
      return tar
    }
  }
}
