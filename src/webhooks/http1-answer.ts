/**
 * Reading an HTTP/1.x answer for the webhook client (http1.ts): its status
 * and, so the connection can carry the next pipelined answer, where it ends
 * (content-length, chunked with trailers, or until close; interim 1xx
 * answers skipped). The body itself is never kept.
 */

/**
 * How far an answer has been read: once `done`, it took `used` bytes (before, with a content-length, where it
 * will end; else 0); `close`: the server ends the connection.
 */
export interface Parsed { status?: number, done: boolean, used: number, close: boolean, untilClose: boolean }

/**
 * Parses what has arrived of an answer (`acc` from `from` on); `done` once it is complete, `used` counted from
 * `from`. Pipelined answers arrive many to a read: an offset, not a `subarray` per answer.
 */
export function parseAnswer (acc: Buffer, from = 0): Parsed {
  const usual = parseUsual(acc, from)
  if (usual !== undefined) return usual
  const parsed = parseAny(acc, from)
  if (parsed.used > 0) parsed.used -= from
  return parsed
}

/**
 * Reads any HTTP/1.x answer (`used` counted from the buffer's start). Exported for the test that checks
 * `parseAnswer`'s reading of the usual answer agrees with it.
 */
export function parseAny (acc: Buffer, from: number): Parsed {
  let off = from
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
      const [name, given] = headerField(line, line.indexOf(':'))
      const value = given.toLowerCase()
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

/** A header line's name (trimmed, lower case) and value (trimmed), split at its colon, as both readers take them. */
function headerField (line: string, colon: number): [name: string, value: string] {
  return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
}

const CR = 13
const LF = 10
/** `HTTP/1.1 ` */
const HTTP11 = [72, 84, 84, 80, 47, 49, 46, 49, 32]
/** `content-length:` */
const CONTENT_LENGTH = [99, 111, 110, 116, 101, 110, 116, 45, 108, 101, 110, 103, 116, 104, 58]
/**
 * First bytes of a header line `parseAny` may read as framing: c (content-length, connection), t
 * (transfer-encoding), or a byte String#trim drops in latin1 (tab, LF, VT, FF, CR, space, no-break space).
 */
const FRAMING = new Uint8Array(256)
for (const b of [0x43, 0x63, 0x54, 0x74, 9, 10, 11, 12, 13, 32, 0xa0]) FRAMING[b] = 1

/**
 * The usual answer, read from its bytes: `HTTP/1.1` with a final status (not 204 or 304), a content-length
 * and no transfer-encoding. A plain `content-length: <digits>` line is read in place; other header lines that
 * may be about framing (see FRAMING) are read as `parseAny` reads them, the rest skipped; anything unusual
 * returns undefined and `parseAny` reads it. `parseAny` split every head into a string per line and ran a
 * regular expression, per answer (three answers per event with three webhooks): 0.63 against 0.04–0.08 µs per
 * pipelined `200` answer (RESULTS.md, round eleven).
 */
function parseUsual (acc: Buffer, from: number): Parsed | undefined {
  const size = acc.length
  if (size < from + 16) return undefined
  for (let i = 0; i < 9; i++) if (acc[from + i] !== HTTP11[i]) return undefined
  const d0 = (acc[from + 9] as number) - 48
  const d1 = (acc[from + 10] as number) - 48
  const d2 = (acc[from + 11] as number) - 48
  if (d0 < 2 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return undefined
  const status = d0 * 100 + d1 * 10 + d2
  if (status === 204 || status === 304) return undefined
  let at = from + 12
  // The status line's end: the first CRLF.
  while (at + 1 < size && !(acc[at] === CR && acc[at + 1] === LF)) at++
  let length = -1
  let close = false
  for (;;) {
    const line = at + 2
    if (line + 1 >= size) return undefined
    // An empty line ends the head.
    if (acc[line] === CR && acc[line + 1] === LF) {
      if (length < 0) return undefined
      const off = line + 2
      return { status, done: size >= off + length, used: off + length - from, close, untilClose: false }
    }
    at = line
    while (at + 1 < size && !(acc[at] === CR && acc[at + 1] === LF)) at++
    if (at + 1 >= size) return undefined
    if (FRAMING[acc[line] as number] !== 1) continue
    const plain = contentLength(acc, line, at)
    if (plain >= 0) { length = plain; continue }
    const text = acc.toString('latin1', line, at)
    const colon = text.indexOf(':')
    if (colon < 0) return undefined
    const [name, value] = headerField(text, colon)
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return undefined
      length = Number(value)
    } else if (name === 'connection') close = value.toLowerCase().includes('close')
    else if (name === 'transfer-encoding') return undefined
  }
}

/** The value of a plain `content-length:<spaces><1–15 digits>` line (any case) from `at` to `eol`, else -1. */
function contentLength (acc: Buffer, at: number, eol: number): number {
  if (eol - at < CONTENT_LENGTH.length + 1) return -1
  for (let i = 0; i < CONTENT_LENGTH.length; i++) {
    const b = acc[at + i] as number
    if ((b >= 65 && b <= 90 ? b + 32 : b) !== CONTENT_LENGTH[i]) return -1
  }
  let i = at + CONTENT_LENGTH.length
  while (i < eol && acc[i] === 32) i++
  if (eol - i < 1 || eol - i > 15) return -1
  let value = 0
  for (; i < eol; i++) {
    const d = (acc[i] as number) - 48
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
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
