/**
 * Server-Sent Events frames of logged events, for the event streams (event-stream.ts).
 */
import type { LoggedEvent } from './event-log.js'

/**
 * An event's frame as written: `id: …\nevent: …\ndata: ` (ASCII), the JSON's bytes as the log wrote them, and
 * a blank line. Chunks are made from these straight into one buffer: before, each event's frame was a string
 * (~600 bytes), each flush joined them into another and encoded that once more (three copies of every byte).
 */
export interface Frame {
  head: string
  body: Uint8Array
  size: number
}

/**
 * The last event's frame: a new event goes to several streams, so its frame is made once. Not a
 * `WeakMap` keyed by the event, as before: V8's scavenger kept a WeakMap's values alive (and promoted them)
 * though their keys were garbage. A micro-benchmark of 300,000 1 KB frames: 283 ms of CPU with the WeakMap
 * (young collections of 14–21 ms each), 33–37 ms without. bench:events, one run each (round eight, events10;
 * whole process, `--trace-gc-nvp`): promoted to the old generation 84 MB with the WeakMap, 73 MB without it,
 * 53 MB without notifications.
 */
let last: { e: LoggedEvent, frame: Frame } | undefined
export function frameOf (e: LoggedEvent): Frame {
  if (last?.e !== e) {
    const head = `id: ${e.id}\nevent: ${e.event.type}\ndata: `
    const body = e.bytes ?? Buffer.from(e.json)
    last = { e, frame: { head, body, size: head.length + body.byteLength + 2 } }
  }
  return last.frame
}

/** One write's bytes: `size` is the frames' total. */
export function chunkOf (frames: Frame[], size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const f of frames) {
    at += out.write(f.head, at, 'latin1')
    out.set(f.body, at)
    at += f.body.byteLength
    out[at++] = 10
    out[at++] = 10
  }
  return out
}
