/**
 * A block put in one hand-off instead of five. Through fs's callback API a fetched block costs the main thread
 * a thread-pool round trip for each of `has`, open, pwrite, close and rename (each a work request, a wake-up of
 * the event loop and a callback). Here the block's bytes are copied into a shared, page-aligned slot (the copy
 * the O_DIRECT path made anyway, direct-write.ts) and one thread (block-file-thread.ts) does the whole put with
 * synchronous calls; requests made in one turn of the event loop go in one message and come back in one.
 * Files, modes, O_DIRECT and the temp-file-then-rename order are those of the main-thread path, so crash
 * safety is unchanged: nothing is visible under a block's name before its bytes are written and the file
 * closed or kept for its fsync, and durability is still the blockstore's sync().
 */
import { Worker } from 'node:worker_threads'

/** Alignment and sizes for O_DIRECT (as direct-write.ts). */
const ALIGN = 4096
const DIRECT_MIN = 64 * 1024
/** Largest block that goes through a slot; larger ones take the main-thread path. */
export const THREAD_MAX_BYTES = 1024 * 1024
/** Slots at most: puts in flight; more wait for one (as direct-write.ts, whose measurement sets it). */
const SLOTS = 32
const WASM_PAGE = 65536

/** The WebAssembly API used here, for page-aligned shared memory (the project's TypeScript libs leave it out). */
declare const WebAssembly: {
  Memory: new (size: { initial: number, maximum: number, shared: true }) => { buffer: SharedArrayBuffer }
}

interface Slot { n: number, bytes: Uint8Array }
type Answer = (result: number | string) => void

/** Puts block files from a thread of their own. */
export interface BlockFileWorker {
  /**
   * Writes `pieces` (`size` bytes, at most THREAD_MAX_BYTES) to the new file `temp`, then renames it to
   * `path`; resolves with its descriptor when `keepOpen` was granted (buffered files only), else undefined.
   * Rejects with the thread's error (the temp file removed); the main-thread path is the caller's fallback
   * when the thread cannot be used (`undefined` from createBlockFileWorker).
   */
  put(temp: string, path: string, pieces: readonly Uint8Array[], size: number, keepOpen: boolean):
    Promise<number | undefined>
  /** Whether a file exists at `path`. */
  has(path: string): Promise<boolean>
  /** Ends the thread once its requests are answered. */
  close(): Promise<void>
}

/** Error from the block-file thread, with the system call's code. */
class BlockFileError extends Error {
  code: string
  constructor (answer: string) {
    super(answer)
    this.code = answer.slice(0, answer.indexOf(' '))
  }
}

/** The thread's script: this directory's block-file-thread (.js in dist, .ts from src under the tests). */
const SCRIPT = new URL(`./block-file-thread.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url)

/** Starts the thread; undefined where no shared WebAssembly memory can be made (then the caller writes itself). */
export function createBlockFileWorker (): BlockFileWorker | undefined {
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
  } catch {
    return undefined
  }
  let worker: Worker | undefined
  let nextId = 0
  const answers = new Map<number, Answer>()
  let batch: unknown[][] = []
  let flushing = false
  let made = 0
  const free: Slot[] = []
  const waiting: Array<(slot: Slot) => void> = []
  let idle: (() => void) | undefined

  function start (): Worker {
    const w = new Worker(SCRIPT)
    w.on('message', (out: Array<number | string>) => {
      for (let i = 0; i < out.length; i += 2) {
        const answer = answers.get(out[i] as number)
        answers.delete(out[i] as number)
        answer?.(out[i + 1] as number | string)
      }
      if (answers.size === 0) { w.unref(); idle?.() }
    })
    // A thread that dies fails what it was asked (its puts fail as a disk error would); the next put starts
    // another, lent every slot again.
    const gone = (err?: unknown): void => {
      if (worker !== w) return
      worker = undefined
      const why = `ECHILD block-file thread ended: ${String(err ?? 'exit')}`
      for (const [id, answer] of [...answers]) { answers.delete(id); answer(why) }
      idle?.()
    }
    w.on('error', gone)
    w.on('exit', () => { gone() })
    w.unref()
    return w
  }

  function send (req: unknown[], answer: Answer): void {
    if (worker == null) {
      worker = start()
      batch.unshift(...[...free, ...lent].map(s => ['slot', s.n, s.bytes.buffer]))
    }
    worker.ref()
    answers.set(req[1] as number, answer)
    batch.push(req)
    if (flushing) return
    flushing = true
    // Everything asked in this turn of the event loop goes in one message.
    setImmediate(() => {
      flushing = false
      const b = batch
      batch = []
      worker?.postMessage(b)
    })
  }

  const lent = new Set<Slot>()
  async function take (size: number): Promise<Slot> {
    const fits = free.findLastIndex(s => s.bytes.byteLength >= size)
    let slot = fits >= 0 ? free.splice(fits, 1)[0] as Slot : undefined
    if (slot == null && made < SLOTS) slot = make(size)
    slot ??= free.pop() ?? await new Promise<Slot>(resolve => { waiting.push(resolve) })
    // Too small for this block: a larger one takes its number (the old memory is garbage once the thread drops it).
    if (slot.bytes.byteLength < size) slot = make(size, slot.n)
    lent.add(slot)
    return slot
  }
  function make (size: number, n = made++): Slot {
    const pages = Math.ceil(size / WASM_PAGE)
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
    const slot = { n, bytes: new Uint8Array(memory.buffer) }
    if (worker != null) batch.push(['slot', n, slot.bytes.buffer])
    return slot
  }
  function release (slot: Slot): void {
    lent.delete(slot)
    const next = waiting.shift()
    if (next != null) next(slot)
    else free.push(slot)
  }

  return {
    async put (temp, path, pieces, size, keepOpen) {
      const slot = await take(size)
      try {
        let at = 0
        for (const piece of pieces) { slot.bytes.set(piece, at); at += piece.byteLength }
        const direct = size >= DIRECT_MIN && size % ALIGN === 0
        const result = await new Promise<number | string>(resolve => {
          send(['put', nextId++, temp, path, slot.n, size, direct, keepOpen], resolve)
        })
        if (typeof result === 'string') throw new BlockFileError(result)
        return result >= 0 ? result : undefined
      } finally {
        release(slot)
      }
    },
    async has (path) {
      const result = await new Promise<number | string>(resolve => { send(['has', nextId++, path], resolve) })
      if (typeof result === 'string') throw new BlockFileError(result)
      return result === 1
    },
    async close () {
      if (answers.size > 0) await new Promise<void>(resolve => { idle = resolve })
      await worker?.terminate()
      worker = undefined
    }
  }
}
