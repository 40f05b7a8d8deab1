/**
 * The multipart reader at its seam: a form built here, byte by byte, becomes
 * upload entries in body order and its fields; every bad form (unsafe or
 * clashing paths, unknown, long or repeated fields, too many files, none,
 * a cut-off body) is a typed error; the body's own failure is passed on.
 */
import { describe, expect, it } from 'vitest'
import { parseMultipart, type MultipartInit } from '../../src/http/multipart.js'
import type { UploadEntry } from '../../src/content/index.js'

const BOUNDARY = 'pinery-test-boundary'
const HEADERS = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }
const INIT: MultipartInit = { maxFieldBytes: 64, maxFiles: 4, fields: ['name', 'meta'] }

type Part = { field: string, value: string } | { file: string, content?: string, type?: string, encoded?: boolean }

function form (parts: Part[], options: { close?: boolean } = {}): Buffer {
  const text = parts.map(p => 'field' in p
    ? `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.field}"\r\n\r\n${p.value}\r\n`
    : `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; ${p.encoded === true ? `filename*=utf-8''${encodeURIComponent(p.file)}` : `filename="${p.file}"`}\r\nContent-Type: ${p.type ?? 'application/octet-stream'}\r\n\r\n${p.content ?? ''}\r\n`
  ).join('') + (options.close === false ? '' : `--${BOUNDARY}--\r\n`)
  return Buffer.from(text)
}

async function * body (bytes: Buffer, chunk = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk)
}

/** Reads every entry, with its content as text. */
async function readAll (bytes: Buffer | AsyncIterable<Uint8Array>, init = INIT): Promise<{ entries: Array<{ path: string, text?: string }>, fields: Map<string, string> }> {
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

const invalid = (details: RegExp): unknown => expect.objectContaining({ name: 'InvalidRequestError', message: expect.stringMatching(details) })

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
  const whole = (parts: Part[]): AsyncIterable<Uint8Array> => { const bytes = form(parts); return body(bytes, bytes.byteLength) }

  it('refuses paths that climb out, carry control characters or name nothing', async () => {
    await expect(readAll(whole([{ file: 'a/../../etc/passwd', content: 'x' }]))).rejects.toEqual(invalid(/'\.\.' is not allowed/))
    await expect(readAll(whole([{ file: 'a\u0001b', content: 'x', encoded: true }]))).rejects.toEqual(invalid(/control characters/))
    await expect(readAll(whole([{ file: './/.', content: 'x' }]))).rejects.toEqual(invalid(/names no file/))
  })

  it('refuses a path twice, or a file that is also a directory', async () => {
    await expect(readAll(whole([{ file: 'a.txt', content: '1' }, { file: 'a.txt', content: '2' }]))).rejects.toEqual(invalid(/appears twice/))
    await expect(readAll(whole([{ file: 'a', content: '1' }, { file: 'a/b', content: '2' }]))).rejects.toEqual(invalid(/"a" is a file/))
    await expect(readAll(whole([{ file: 'a/b', content: '1' }, { file: 'a', content: '2' }]))).rejects.toEqual(invalid(/appears twice/))
    // A directory part for a directory that files are in is fine.
    expect((await readAll(form([{ file: 'd/f', content: '1' }, { file: 'd', type: 'application/x-directory' }]))).entries).toHaveLength(2)
  })

  it('refuses unknown, repeated and too long fields', async () => {
    await expect(readAll(form([{ field: 'owner', value: 'eve' }, { file: 'a', content: '1' }]))).rejects.toEqual(invalid(/form field "owner" is not one of name, meta/))
    await expect(readAll(form([{ field: 'name', value: 'a' }, { field: 'name', value: 'b' }, { file: 'a', content: '1' }]))).rejects.toEqual(invalid(/given twice/))
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
    expect(() => parseMultipart({ 'content-type': 'multipart/form-data' }, body(Buffer.alloc(0)), INIT)).toThrow(expect.objectContaining({ name: 'InvalidRequestError' }))
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
    for await (const entry of upload.entries) for await (const c of entry.content ?? []) { pieces++; length += c.byteLength }
    expect(length).toBe(big.length)
    expect(pieces).toBeGreaterThan(10)
  })
})
