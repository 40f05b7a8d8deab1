/**
 * The node:fs callback API as a promise, for the block files' hot paths: fs/promises' FileHandle
 * costs a handle object, its close tracking and a promise per call on every block (see
 * durable-blockstore.ts for the measurement), so those paths call fs on plain descriptors.
 */

/** Runs one callback-style fs call as a promise. */
export async function fsCall<T = void> (start: (cb: (err: Error | null, value?: T) => void) => void): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    start((err, value) => { if (err != null) reject(err); else resolve(value as T) })
  })
}
