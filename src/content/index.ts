/**
 * Content in and out: uploads (one file, a folder, a CAR) imported into the
 * blockstore and recorded as pinned requests, and the read side of the
 * gateway (/ipfs/{cid}[/path]) over pinned DAGs.
 */
import type { PinRecord, PinRequest } from '../pins/types.js'
import type { CID } from 'multiformats/cid'

/** One part of a folder upload: a file (with content) or an empty directory (without). */
export interface UploadEntry {
  /** Relative path inside the folder, '/'-separated, already validated. */
  path: string
  content?: AsyncIterable<Uint8Array>
}

/** What every upload is told besides its bytes. */
export interface UploadOptions {
  signal?: AbortSignal
  /**
   * The bytes the content will take, when known before reading it (the
   * Content-Length of a single file): an upload over the quota is then
   * refused before anything is read.
   */
  expectedBytes?: number
  /**
   * Name, meta and origins of the request(s), asked once the content is
   * stored (form fields may follow the files); may throw InvalidRequestError.
   */
  request(): Omit<PinRequest, 'cid'>
  /**
   * Called once the content is stored, right before its request is recorded: throws (UnauthorizedError)
   * when the uploader's access ended while the body streamed (a revoked token, a deleted user).
   */
  stillAllowed?(): Promise<void>
}

/** Imports uploads and records them as pin requests of their owner. */
export interface ContentService {
  /** One file, imported like `ipfs add --cid-version=1`: pinned at once. */
  addFile(owner: string, content: AsyncIterable<Uint8Array>, options: UploadOptions): Promise<PinRecord>
  /**
   * Several files under one UnixFS directory, paths kept: pinned at once. Entries that all lie in one file or
   * folder are stored as it: one file with no directory in its path as `addFile` stores it (kubo's `ipfs add`,
   * Pinata's pinFileToIPFS), one folder as `ipfs add -r` does; unless `wrapWithDirectory()` (kubo's `-w`), asked
   * once the entries have ended (a form's field may say it, before its files).
   */
  addDirectory(
    owner: string, entries: AsyncIterable<UploadEntry>, options: UploadOptions & { wrapWithDirectory?: () => boolean }
  ): Promise<PinRecord>
  /**
   * A CAR (v1 or v2): every block verified against its CID before it is
   * stored; one request per root, pinned at once when the CAR holds the
   * whole DAG, else queued so the worker fetches the rest. A bad CAR
   * (InvalidRequestError) leaves none of its blocks behind.
   */
  addCar(owner: string, car: AsyncIterable<Uint8Array>, options: UploadOptions): Promise<PinRecord[]>
}

/** A directory's child as listed by the gateway. */
export interface DirectoryItem {
  name: string
  cid: CID
  size: number
}

/** What a gateway path resolves to. */
export type GatewayEntry =
  | {
    type: 'file'
    cid: CID
    name: string
    size: number
    read(range: { offset: number, length: number }, options: { signal?: AbortSignal }): AsyncIterable<Uint8Array>
    /** The range's bytes as a response body: read ahead, batched, as fast as the sink takes them. */
    body(range: { offset: number, length: number }, options: { signal?: AbortSignal }): BodyWriter
  }
  | { type: 'directory', cid: CID, name: string, list(options: { signal?: AbortSignal }): AsyncIterable<DirectoryItem> }
  | { type: 'object', cid: CID, name: string, bytes: Uint8Array }

/** Where streamed bytes go (an HTTP response). */
export interface ByteSink {
  /**
   * Resolves once `chunk` has been handed on, so its buffer may be reused;
   * rejects, or never settles, when the receiver is gone (writers also
   * watch their abort signal).
   */
  write(chunk: Uint8Array): Promise<void>
}

/** A response body checked and ready to be written. */
export interface BodyWriter {
  /** Writes the whole body to `sink`; throws when a block cannot be read or decoded on the way. */
  write(sink: ByteSink): Promise<void>
}

/** Reads pinned content for GET /ipfs/{cid}[/path]. */
export interface Gateway {
  /**
   * Resolves `path` (UnixFS names) under `root`; throws NotFoundError when
   * the root is not pinned or the path names nothing. `trail` lists the
   * CIDs passed on the way (the root first), to put in a CAR with the target.
   * With `raw` and no path, the root's block is not decoded at all (any codec
   * reads as its bytes). A block that does not decode as its CID's codec
   * throws NotAcceptableError: only its raw bytes can be given.
   */
  resolve(
    root: CID,
    path: string[],
    options: { signal?: AbortSignal, raw?: boolean }
  ): Promise<{ entry: GatewayEntry, trail: CID[] }>
  /** The block's bytes (of a CID that resolve() returned). */
  block(cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array>
  /**
   * A CARv1 with `root` as its root: the `trail` blocks, then the whole DAG
   * of `target`, depth-first. Throws NotAcceptableError before anything is
   * written when `target` does not decode as its codec.
   */
  car(root: CID, trail: CID[], target: CID, options: { signal?: AbortSignal }): Promise<BodyWriter>
}

export { createContentService } from './service.js'
export type { ContentServiceComponents } from './service.js'
export { createGateway } from './gateway.js'
export type { GatewayComponents } from './gateway.js'
