/**
 * A Content-Type for a file served by the gateway: from the name's
 * extension when mime-types knows it, else from the first bytes (a few
 * magic numbers, HTML, UTF-8 text), else application/octet-stream.
 */

import { lookup } from 'mime-types'

const TEXT = '; charset=utf-8'
// mime-types calls .car a curl file; here it is always an IPLD CAR.
const OVERRIDES: Record<string, string> = { car: 'application/vnd.ipld.car' }

/** The type mime-types knows for the name's extension (text types in UTF-8), if any. */
function byExtension (name: string): string | undefined {
  const dot = name.lastIndexOf('.')
  if (dot <= 0) return undefined // no extension, or a dotfile such as .profile
  const ext = name.slice(dot + 1).toLowerCase()
  const type = OVERRIDES[ext] ?? lookup(ext)
  if (type === false) return undefined
  return type.startsWith('text/') ? `${type}${TEXT}` : type
}

const ascii = (s: string): number[] => [...s].map(c => c.charCodeAt(0))
// [offset, bytes, type]
const SIGNATURES: Array<[number, number[], string]> = [
  [0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [0, [0xff, 0xd8, 0xff], 'image/jpeg'],
  [0, ascii('GIF8'), 'image/gif'],
  [8, ascii('WEBP'), 'image/webp'],
  [0, ascii('%PDF-'), 'application/pdf'],
  [0, [0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [0, [0x1f, 0x8b], 'application/gzip'],
  [0, [0x00, 0x61, 0x73, 0x6d], 'application/wasm'],
  [0, ascii('ID3'), 'audio/mpeg'],
  [0, ascii('OggS'), 'audio/ogg']
]

/** How many leading bytes {@link mediaType} looks at. */
export const SNIFF_BYTES = 512

/** The Content-Type of a file named `name` (may be empty) that starts with `head`. */
export function mediaType (name: string, head: Uint8Array): string {
  const byName = byExtension(name)
  if (byName != null) return byName
  for (const [offset, magic, type] of SIGNATURES) {
    if (head.byteLength >= offset + magic.length && magic.every((b, i) => head[offset + i] === b)) return type
  }
  let text: string
  try {
    // stream: a multi-byte character cut off at the end of `head` is not an error.
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true })
  } catch {
    return 'application/octet-stream'
  }
  // Control characters other than tab, newlines and form feed mean binary.
  // eslint-disable-next-line no-control-regex -- sniffing for control characters is the point
  if (/[\x00-\x08\x0b\x0e-\x1f\x7f]/.test(text)) return 'application/octet-stream'
  if (/^\s*<(!doctype html|html|head|body)[\s>]/i.test(text)) return `text/html${TEXT}`
  return `text/plain${TEXT}`
}
