/**
 * The Range header of a GET, for one byte range (RFC 9110 §14). Several
 * ranges are answered with the whole body, which the RFC allows.
 *
 * Kept instead of Express's `req.range` (range-parser 1.3.0) because that one
 * breaks the RFC on a 100-byte body, measured: `bytes=-1000` gives -1 (a 416)
 * where §14.1.2 says a suffix longer than the body selects all of it, and
 * `bytes=5-2` gives -1 (a 416) where an invalid range set must be ignored (a
 * 200); test/http/range.test.ts holds both cases.
 */

/** A resolved byte range: `length` bytes from `offset`. */
export interface ByteRange {
  offset: number
  length: number
}

/**
 * Parses `header` against a body of `size` bytes: undefined means "send it
 * all" (no header, not bytes, several ranges, unparsable), 'unsatisfiable'
 * means 416.
 */
export function parseRange (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header == null) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m == null) return undefined
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return undefined
  if (first === '') {
    // bytes=-N: the last N bytes.
    const n = Number(last)
    if (n === 0 || size === 0) return 'unsatisfiable'
    const length = Math.min(n, size)
    return { offset: size - length, length }
  }
  const start = Number(first)
  if (start >= size) return 'unsatisfiable'
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (end < start) return undefined
  return { offset: start, length: end - start + 1 }
}
