/**
 * Content types of served files: by extension first, then by content.
 */
import { describe, expect, it } from 'vitest'
import { mediaType } from '../../src/content/media-type.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('mediaType', () => {
  it('goes by a known extension whatever the bytes', () => {
    expect(mediaType('page.HTML', text('x'))).toBe('text/html; charset=utf-8')
    expect(mediaType('a.json', new Uint8Array([0, 1]))).toBe('application/json')
    expect(mediaType('dir.v2/app.wasm', new Uint8Array())).toBe('application/wasm')
  })

  it('sniffs magic numbers, HTML and UTF-8 text when the name says nothing', () => {
    expect(mediaType('', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('image/png')
    expect(mediaType('blob', text('%PDF-1.7'))).toBe('application/pdf')
    expect(mediaType('', text('RIFF\x00\x00\x00\x00WEBPVP8 '))).toBe('image/webp')
    expect(mediaType('index', text('  <!DOCTYPE html><p>'))).toBe('text/html; charset=utf-8')
    expect(mediaType('.profile', text('héllo\twörld\n'))).toBe('text/plain; charset=utf-8')
    // A multi-byte character cut off by the sniffing window is still text.
    expect(mediaType('', text('ab€').subarray(0, 3))).toBe('text/plain; charset=utf-8')
  })

  it('calls anything else binary', () => {
    expect(mediaType('', Uint8Array.from([0xff, 0xfe, 0x00, 0x01]))).toBe('application/octet-stream')
    expect(mediaType('x.unknownext', text('a\x00b'))).toBe('application/octet-stream')
  })
})
