/**
 * The multipart reader at its seam: a form built here, byte by byte, becomes
 * upload entries in body order and its fields; every bad form (unsafe or
 * clashing paths, unknown, long or repeated fields, too many files, none,
 * a cut-off body) is a typed error; the body's own failure is passed on.
 */
import { describe, expect, it } from 'vitest'
import { failure } from '../fixtures/errors.js'
import { parseMultipart, type MultipartInit } from '../../src/http/multipart.js'
import type { UploadEntry } from '../../src/content/index.js'

const BOUNDARY = 'pinery-test-boundary'
const HEADERS = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }
const INIT: MultipartInit = { maxFieldBytes: 64, maxFiles: 4, maxDirectories: 8, fields: ['name', 'meta'] }

type Part = { field: string, value: string } | { file: string, content?: string, type?: string, encoded?: boolean }

function part (p: Part): string {
  if ('field' in p) return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.field}"\r\n\r\n${p.value}\r\n`
  // RFC 5987 encoding carries bytes a quoted filename cannot.
  const filename = p.encoded === true ? `filename*=utf-8''${encodeURIComponent(p.file)}` : `filename="${p.file}"`
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; ${filename}\r\n` +
    `Content-Type: ${p.type ?? 'application/octet-stream'}\r\n\r\n${p.content ?? ''}\r\n`
}

function form (parts: Part[], options: { close?: boolean } = {}): Buffer {
  return Buffer.from(parts.map(part).join('') + (options.close === false ? '' : `--${BOUNDARY}--\r\n`))
}

async function * body (bytes: Buffer, chunk = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk)
}

/** Reads every entry, with its content as text. */
interface Read { entries: Array<{ path: string, text?: string }>, fields: Map<string, string> }

async function readAll (bytes: Buffer | AsyncIterable<Uint8Array>, init = INIT): Promise<Read> {
  const upload = parseMultipart(HEADERS, Buffer.isBuffer(bytes) ? body(bytes) : bytes, init)
  const entries: Array<{ path: string, text?: string }> = []
  for await (const entry of upload.entries as AsyncIterable<UploadEntry>) {
    if (entry.content == null) { entries.push({ path: entry.path }); continue }
    const chunks: Uint8Array[] = []
    for await (const c of entry.content) chunks.push(c)
    entries.push({ path: entry.path, text: Buffer.concat(chunks).toString() })
  }
  return { entries, fields: upload.fields }
}

const invalid = (details: RegExp): unknown => failure('InvalidRequestError', details)

describe('parseMultipart', () => {
  it('yields files and empty directories in body order with clean paths, and the fields', async () => {
    const { entries, fields } = await readAll(form([
      { field: 'name', value: 'site' },
      { file: './site/index.html', content: '<h1>hi</h1>' },
      { file: 'site//css/a.css', content: 'a{}' },
      { file: 'site/empty', type: 'application/x-directory' },
      { file: '', content: '' }, // an empty file input of a browser form
      { field: 'meta', value: '{"k":"v"}' }
    ]))
    expect(entries).toEqual([
      { path: 'site/index.html', text: '<h1>hi</h1>' },
      { path: 'site/css/a.css', text: 'a{}' },
      { path: 'site/empty' }
    ])
    expect(Object.fromEntries(fields)).toEqual({ name: 'site', meta: '{"k":"v"}' })
  })

  // Small forms, whole in one chunk as a small request arrives.
  const whole = (parts: Part[]): AsyncIterable<Uint8Array> => {
    const bytes = form(parts)
    return body(bytes, bytes.byteLength)
  }
  const refused = async (parts: Part[], details: RegExp): Promise<void> => {
    await expect(readAll(whole(parts))).rejects.toEqual(invalid(details))
  }

  it('refuses paths that climb out, carry control characters or name nothing', async () => {
    await refused([{ file: 'a/../../etc/passwd', content: 'x' }], /'\.\.' is not allowed/)
    await refused([{ file: 'a\u0001b', content: 'x', encoded: true }], /control characters/)
    await refused([{ file: './/.', content: 'x' }], /names no file/)
  })

  it('refuses a bad path in front of a large part without leaving a stream to error with nobody listening',
    async () => {
      const errors: unknown[] = []
      const onError = (err: unknown): void => { errors.push(err) }
      process.on('uncaughtException', onError)
      try {
        const bytes = Buffer.concat([
          Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="../evil"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n'),
          Buffer.alloc(1024 * 1024, 1),
          Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
        ])
        const body = (async function * () {
          for (let i = 0; i < bytes.byteLength; i += 65_536) yield bytes.subarray(i, i + 65_536)
        })()
        const headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }
        const upload = parseMultipart(headers, body, { maxFieldBytes: 64, maxFiles: 4, maxDirectories: 8, fields: [] })
        await expect((async () => { for await (const entry of upload.entries) void entry })())
          .rejects.toEqual(invalid(/'\.\.' is not allowed/))
        await new Promise(resolve => setTimeout(resolve, 100))
        // busboy destroys the refused part's stream ("Unexpected end of file"); unheard, that ended the process.
        expect(errors).toEqual([])
      } finally {
        process.off('uncaughtException', onError)
      }
    })

  it('refuses a path twice, or a file that is also a directory', async () => {
    await refused([{ file: 'a.txt', content: '1' }, { file: 'a.txt', content: '2' }], /appears twice/)
    await refused([{ file: 'a', content: '1' }, { file: 'a/b', content: '2' }], /"a" is a file/)
    await refused([{ file: 'a/b', content: '1' }, { file: 'a', content: '2' }], /appears twice/)
    // A directory part for a directory that files are in is fine.
    const directory: Part = { file: 'd', type: 'application/x-directory' }
    const { entries } = await readAll(form([{ file: 'd/f', content: '1' }, directory]))
    expect(entries).toEqual([{ path: 'd/f', text: '1' }, { path: 'd' }])
  })

  it('counts the directories paths imply, and refuses more than allowed', async () => {
    // INIT allows 8: a/…/h is 8 directories (as prefixes and as a part), one more is refused.
    const eight = await readAll(form([
      { file: 'a/b/c/d/e/f/g/h/x', content: '1' },
      { file: 'a/b/c/d/e/f/g/h', type: 'application/x-directory' },
      { file: 'a/y', content: '2' }
    ]))
    expect(eight.entries.map(e => e.path)).toEqual(['a/b/c/d/e/f/g/h/x', 'a/b/c/d/e/f/g/h', 'a/y'])
    await expect(readAll(form([{ file: 'a/b/c/d/e/f/g/h/x', content: '1' }, { file: 'z/y', content: '2' }])))
      .rejects.toEqual(invalid(/more than 8 directories/))
    await expect(readAll(form([{ file: 'a/b/c/d/e/f/g/h/i/x', content: '1' }])))
      .rejects.toEqual(invalid(/more than 8 directories/))
  })

  it('refuses unknown, repeated and too long fields', async () => {
    const file: Part = { file: 'a', content: '1' }
    const unknown = readAll(form([{ field: 'owner', value: 'eve' }, file]))
    await expect(unknown).rejects.toEqual(invalid(/"owner" is not one of name, meta/))
    const twice = readAll(form([{ field: 'name', value: 'a' }, { field: 'name', value: 'b' }, file]))
    await expect(twice).rejects.toEqual(invalid(/given twice/))
    await expect(readAll(form([{ field: 'name', value: 'x'.repeat(65) }, { file: 'a', content: '1' }])))
      .rejects.toMatchObject({ name: 'PayloadTooLargeError', message: expect.stringMatching(/longer than 64 bytes/) })
  })

  it('refuses more files than allowed, and a form without any', async () => {
    const five = [1, 2, 3, 4, 5].map(i => ({ file: `f${i}`, content: `${i}` }))
    await expect(readAll(form(five))).rejects.toEqual(invalid(/more than 4 files/))
    await expect(readAll(form([{ field: 'name', value: 'n' }]))).rejects.toEqual(invalid(/no file part/))
  })

  it('refuses a body cut off in the middle of a file', async () => {
    const cut = form([{ file: 'a', content: 'x'.repeat(1000) }], { close: false }).subarray(0, 300)
    await expect(readAll(cut)).rejects.toEqual(invalid(/malformed/))
  })

  it('refuses a content type without a boundary at once', () => {
    const parse = (): unknown => parseMultipart({ 'content-type': 'multipart/form-data' }, body(Buffer.alloc(0)), INIT)
    expect(parse).toThrow(failure('InvalidRequestError', /cannot read the multipart body/) as Error)
  })

  it('passes on the failure of reading the body itself', async () => {
    const gone = new Error('client went away')
    const bytes = form([{ file: 'a', content: 'x'.repeat(5000) }])
    const failing = (async function * () { yield bytes.subarray(0, 400); throw gone })()
    await expect(readAll(failing)).rejects.toBe(gone)
  })

  it('streams a large file in pieces rather than as one buffer', async () => {
    const big = 'y'.repeat(3 * 1024 * 1024)
    const upload = parseMultipart(HEADERS, body(form([{ file: 'big', content: big }]), 64 * 1024), INIT)
    let pieces = 0
    let length = 0
    for await (const entry of upload.entries) {
      for await (const c of entry.content ?? []) { pieces++; length += c.byteLength }
    }
    expect(length).toBe(big.length)
    expect(pieces).toBeGreaterThan(10)
  })
})
