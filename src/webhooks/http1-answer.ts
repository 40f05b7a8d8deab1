/**
 * Reading an HTTP/1.x answer for the webhook client (http1.ts): its status
 * and, so the connection can carry the next pipelined answer, where it ends
 * (content-length, chunked with trailers, or until close; interim 1xx
 * answers skipped). The body itself is never kept.
 */

/** How far an answer has been read: once `done`, it took `used` bytes; `close`: the server ends the connection. */
export interface Parsed { status?: number, done: boolean, used: number, close: boolean, untilClose: boolean }

/** Parses what has arrived of an answer (`acc`); `done` once it is complete. */
export function parseAnswer (acc: Buffer): Parsed {
  let off = 0
  let status: number | undefined
  for (;;) {
    const end = acc.indexOf('\r\n\r\n', off, 'latin1')
    if (end < 0) return { status, done: false, used: 0, close: false, untilClose: false }
    const lines = acc.toString('latin1', off, end).split('\r\n')
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '')
    if (m == null) throw new Error('not an HTTP/1.x answer')
    status = Number(m[2])
    off = end + 4
    // Interim answers (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200) continue
    let length: number | undefined
    let chunked = false
    let close = m[1] === '0'
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim().toLowerCase()
      if (name === 'content-length') length = /^\d{1,15}$/.test(value) ? Number(value) : NaN
      else if (name === 'transfer-encoding') chunked = value.endsWith('chunked')
      else if (name === 'connection') close = value.includes('close') || (m[1] === '0' && !value.includes('keep-alive'))
    }
    if (status === 204 || status === 304) return { status, done: true, used: off, close, untilClose: false }
    if (chunked) {
      const used = chunkedEnd(acc, off)
      return { status, done: used >= 0, used: Math.max(used, 0), close, untilClose: false }
    }
    if (length != null && Number.isSafeInteger(length) && length >= 0) {
      return { status, done: acc.length >= off + length, used: off + length, close, untilClose: false }
    }
    return { status, done: false, used: 0, close: true, untilClose: true }
  }
}

/** A chunk's size: 1–8 hex digits (an answer is read 64 KiB at most anyway). */
const CHUNK_SIZE = /^[0-9a-fA-F]{1,8}$/

/** Where a chunked body starting at `off` ends (after its trailers), or -1 when it has not all arrived. */
function chunkedEnd (acc: Buffer, off: number): number {
  for (;;) {
    const eol = acc.indexOf('\r\n', off, 'latin1')
    if (eol < 0) return -1
    // Hex digits only: parseInt would take "-6", which moves `off` back onto this line, for ever.
    const token = acc.toString('latin1', off, eol).split(';')[0]?.trim() ?? ''
    if (!CHUNK_SIZE.test(token)) throw new Error('bad chunk size')
    const size = parseInt(token, 16)
    if (size === 0) {
      // Trailers, then an empty line.
      let at = eol + 2
      for (;;) {
        const next = acc.indexOf('\r\n', at, 'latin1')
        if (next < 0) return -1
        if (next === at) return next + 2
        at = next + 2
      }
    }
    off = eol + 2 + size + 2
    if (off > acc.length) return -1
  }
}
