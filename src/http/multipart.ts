/**
 * A streamed multipart/form-data body as upload entries: each file part
 * becomes an entry whose content is read straight from the body (busboy
 * gives the next part only once this one is read, so one part is in memory
 * at a time), text parts become fields. Paths are validated here, at the
 * edge: relative, no '.' or '..' games, no file that is also a directory.
 */
import busboy from 'busboy'
import { InvalidRequestError, PayloadTooLargeError } from '../errors.js'
import type { UploadEntry } from '../content/index.js'
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'

/** Limits of one form. */
export interface MultipartInit {
  /** Largest text field (meta can be long). */
  maxFieldBytes: number
  /** Most file parts in one form. */
  maxFiles: number
  /** Most directories the form's paths name (as parts or as the folders of a path). */
  maxDirectories: number
  /** The only text fields accepted; any other is refused, so junk fields cannot pile up in memory. */
  fields: string[]
  /** Of `fields`, those that must come before the first file part (they say how the files are read). */
  leadingFields?: string[]
}

/** A form being read. */
export interface MultipartUpload {
  /** Files and empty directories in body order; throws InvalidRequestError on a bad form or one without files. */
  entries: AsyncIterable<UploadEntry>
  /** Text fields, complete once `entries` has ended. */
  fields: Map<string, string>
}

// kubo's multipart encoding marks directory parts with this type.
const DIRECTORY_TYPE = 'application/x-directory'
/**
 * Deepest path accepted (directories and the file). The UnixFS importer
 * builds directories recursively and overflows the stack somewhere past
 * 1,000 levels; no real tree comes near 256.
 */
export const MAX_PATH_DEPTH = 256
/** Longest path accepted, in characters (Linux's PATH_MAX is 4096 bytes). */
export const MAX_PATH_CHARS = 4096

/** Splits a part's filename into a clean relative path, or says what is wrong with it. */
function cleanPath (filename: string): string {
  if (filename.length > MAX_PATH_CHARS) {
    throw new InvalidRequestError(
      `file part "${filename.slice(0, 60)}…": paths must be at most ${MAX_PATH_CHARS} characters`)
  }
  const segments = filename.split('/').filter(s => s !== '' && s !== '.')
  if (segments.length > MAX_PATH_DEPTH) {
    throw new InvalidRequestError(
      `file part "${filename.slice(0, 60)}…": paths must be at most ${MAX_PATH_DEPTH} levels deep`)
  }
  if (segments.length === 0) throw new InvalidRequestError(`file part "${filename}": the filename names no file`)
  for (const s of segments) {
    if (s === '..') throw new InvalidRequestError(`file part "${filename}": '..' is not allowed in paths`)
    // eslint-disable-next-line no-control-regex -- finding control characters in a path is the point
    if (/[\x00-\x1f\x7f]/.test(s)) {
      throw new InvalidRequestError(
        `file part ${JSON.stringify(filename)}: control characters are not allowed in paths`)
    }
  }
  return segments.join('/')
}

interface PathNode {
  file: boolean
  children?: Map<string, PathNode>
}

/**
 * Remembers every path as a tree of segments, so a name cannot be a file and a directory, or a
 * file twice, and counts the directories paths imply. A set of every directory prefix (as this
 * was) held each prefix as its own string: a 4 KiB path 256 levels deep cost ~1 MB, and a 4 MB
 * form of such parts took 1.5 GB and 42 s (measured); here a path costs its segments once.
 */
function pathRegistry (maxDirectories: number): (path: string, isDirectory: boolean) => void {
  const root = new Map<string, PathNode>()
  let directories = 0
  return (path, isDirectory) => {
    const segments = path.split('/')
    let level = root
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string
      const last = i === segments.length - 1
      let node = level.get(segment)
      if (node == null) {
        const file = last && !isDirectory
        if (!file && ++directories > maxDirectories) {
          throw new InvalidRequestError(`the form's paths name more than ${maxDirectories} directories`)
        }
        node = { file }
        level.set(segment, node)
      } else if (last && (node.file || !isDirectory)) {
        throw new InvalidRequestError(`"${path}" appears twice in the form, or as both a file and a directory`)
      } else if (node.file) {
        const prefix = segments.slice(0, i + 1).join('/')
        throw new InvalidRequestError(`"${prefix}" is a file, so "${path}" cannot be inside it`)
      }
      if (!last) level = node.children ??= new Map()
    }
  }
}

type Event =
  | { kind: 'file', path: string, directory: boolean, stream: Readable }
  | { kind: 'end' }
  | { kind: 'error', error: unknown }

/** Starts reading `body` (the request's bytes) as the form `headers` describe. */
export function parseMultipart (
  headers: IncomingHttpHeaders,
  body: AsyncIterable<Uint8Array>,
  init: MultipartInit
): MultipartUpload {
  const fields = new Map<string, string>()
  let parser: busboy.Busboy
  try {
    parser = busboy({
      headers,
      preservePath: true,
      defParamCharset: 'utf8',
      defCharset: 'utf8',
      limits: { fieldSize: init.maxFieldBytes, fields: init.fields.length, files: init.maxFiles }
    })
  } catch (err) {
    throw new InvalidRequestError(`cannot read the multipart body: ${(err as Error).message}`)
  }
  const events: Event[] = []
  let wake: (() => void) | undefined
  const push = (event: Event): void => { events.push(event); wake?.() }
  const fail = (error: unknown): void => { push({ kind: 'error', error }) }
  let partsSeen = 0

  parser.on('file', (name, stream, info) => {
    // busboy destroys a part's stream with "Unexpected end of file" when the form is abandoned
    // mid-part (a refused path, a parser destroyed early). Unheard, that error would end the
    // process; a consumer reading the part still gets it through its own iterator.
    stream.on('error', () => {})
    partsSeen++
    // An empty file input of a browser form arrives as filename="" without content.
    if (info.filename == null || info.filename === '') { stream.resume(); return }
    try {
      push({ kind: 'file', path: cleanPath(info.filename), directory: info.mimeType === DIRECTORY_TYPE, stream })
    } catch (err) {
      stream.resume()
      fail(err)
    }
  })
  parser.on('field', (name, value, info) => {
    if (!init.fields.includes(name)) {
      fail(new InvalidRequestError(`form field "${name}" is not one of ${init.fields.join(', ')}`))
    } else if (info.valueTruncated) {
      fail(new PayloadTooLargeError(`form field "${name}" is longer than ${init.maxFieldBytes} bytes`))
    } else if (fields.has(name)) {
      fail(new InvalidRequestError(`form field "${name}" is given twice`))
    } else if (partsSeen > 0 && init.leadingFields?.includes(name) === true) {
      fail(new InvalidRequestError(`form field "${name}" must come before the files`))
    } else {
      fields.set(name, value)
    }
  })
  parser.on('filesLimit', () => { fail(new InvalidRequestError(`the form has more than ${init.maxFiles} files`)) })
  parser.on('fieldsLimit', () => {
    const names = init.fields.join(', ')
    fail(new InvalidRequestError(`the form has more than ${init.fields.length} text fields (${names})`))
  })
  parser.on('error', (err: Error) => {
    fail(new InvalidRequestError(`the multipart body is malformed: ${err.message}`))
  })
  parser.on('close', () => { push({ kind: 'end' }) })

  let stopped = false
  // Set when reading the request itself failed (client gone, idle timeout): that, not the form, is the error.
  let bodyFailure: unknown
  const pump = async (): Promise<void> => {
    for await (const chunk of body) {
      if (stopped) return
      // Backpressure: busboy stops taking bytes while the current file is not being read.
      if (!parser.write(chunk)) {
        await new Promise<void>(resolve => {
          const done = (): void => { parser.off('drain', done); parser.off('close', done); resolve() }
          parser.on('drain', done)
          parser.on('close', done)
        })
      }
    }
    parser.end()
  }

  /** A file's bytes; busboy's errors mid-file mean a malformed (or cut off) body. */
  async function * content (stream: Readable): AsyncGenerator<Uint8Array> {
    try {
      yield * stream
    } catch (err) {
      throw bodyFailure ?? new InvalidRequestError(`the multipart body is malformed: ${(err as Error).message}`)
    }
  }

  async function * entries (): AsyncGenerator<UploadEntry> {
    pump().catch((err: unknown) => {
      bodyFailure = err
      fail(err)
      parser.destroy(err as Error) // ends the file being read with the error too
    })
    const register = pathRegistry(init.maxDirectories)
    let files = 0
    try {
      for (;;) {
        while (events.length === 0) await new Promise<void>(resolve => { wake = resolve })
        const event = events.shift() as Event
        if (event.kind === 'error') throw event.error
        if (event.kind === 'end') break
        register(event.path, event.directory)
        files++
        if (event.directory) {
          event.stream.resume()
          yield { path: event.path }
        } else {
          yield { path: event.path, content: content(event.stream) }
        }
      }
      if (files === 0) {
        throw new InvalidRequestError('the form has no file part (send each file as a part with a filename)')
      }
    } finally {
      stopped = true
      for (const e of events) if (e.kind === 'file') e.stream.resume()
      parser.removeAllListeners('file')
      parser.on('error', () => {}) // after the last read nothing is listening for errors any more
      if (!parser.destroyed) parser.destroy()
    }
  }

  return { entries: entries(), fields }
}
