/**
 * The webhook client's answer reader (http1-answer.ts): the usual answer is read from its bytes, in place
 * at an offset (pipelined answers arrive many to a read), and must read every answer exactly as the general
 * reader does. Generated heads mix the header lines that decide framing (content-length in any case and
 * spacing, connection, transfer-encoding) with lines that only look like them.
 */
import { describe, expect, it } from 'vitest'
import { parseAnswer, parseAny } from '../../src/webhooks/http1-answer.js'

/** The general reader, with `used` counted from `from` as parseAnswer counts it. */
function general (acc: Buffer, from: number): ReturnType<typeof parseAny> {
  const parsed = parseAny(acc, from)
  return parsed.used > 0 ? { ...parsed, used: parsed.used - from } : parsed
}

const STATUS = ['HTTP/1.1 200 OK', 'HTTP/1.1 202 Accepted', 'HTTP/1.1 299', 'HTTP/1.1 404 Not Found',
  'HTTP/1.1 500 Error', 'HTTP/1.1 204 No Content', 'HTTP/1.0 200 OK', 'HTTP/1.1 2000 odd', 'HTTP/1.1 100 Continue']
const HEADERS = ['content-length: 2', 'Content-Length: 2', 'CONTENT-LENGTH:2', 'content-length:   2',
  'content-length: 2  ', 'content-length:\t2', ' content-length: 2', 'content-length : 2', 'content-length: x',
  'content-length: 1234567890123456', 'content-length: 0', 'content-length: 12', 'connection: close',
  'Connection: keep-alive', 'connection: Keep-Alive, Close', 'transfer-encoding: chunked', 'content-type: text/plain',
  'Content-Type: application/json', 'cache-control: no-store', 'date: Tue, 01 Dec 2026 12:00:00 GMT',
  'x-thing: content-length: 5', 'connectionx', '\tconnection: close', 'trailer: x', 'keep-alive: timeout=5']

/** A small deterministic generator (the same answers every run). */
function random (seed: number): () => number {
  let s = seed
  return () => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31 }
}

describe('parseAnswer', () => {
  it('reads generated answers, whole and cut short, at any offset, as the general reader does', () => {
    const next = random(7)
    const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)] as T
    for (let n = 0; n < 3000; n++) {
      const lines = Array.from({ length: Math.floor(next() * 4) }, () => pick(HEADERS))
      const chunked = lines.some(l => l.includes('chunked'))
      const body = chunked ? '2\r\nok\r\n0\r\n\r\n' : 'ok'.repeat(Math.floor(next() * 3))
      const answer = `${pick(STATUS)}\r\n${lines.map(l => `${l}\r\n`).join('')}\r\n${body}`
      const junk = 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'.repeat(Math.floor(next() * 3))
      const whole = Buffer.from(junk + answer + 'HTTP/1.1 200 OK\r\n', 'latin1')
      for (const cut of [whole.length, junk.length + answer.length - 1, junk.length + Math.floor(answer.length / 2)]) {
        const acc = whole.subarray(0, cut)
        let expected: unknown
        try { expected = general(acc, junk.length) } catch (err) { expected = err }
        if (expected instanceof Error) {
          expect(() => parseAnswer(acc, junk.length), answer).toThrow(expected.message)
        } else {
          expect(parseAnswer(acc, junk.length), JSON.stringify(answer)).toEqual(expected)
        }
      }
    }
  })

  it('reads pipelined answers one after another from an offset', () => {
    const one = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'
    const acc = Buffer.from(one.repeat(3) + 'HTTP/1.1 201 Created\r\nConnection: close\r\ncontent-length: 0\r\n\r\n')
    const seen: Array<[number | undefined, boolean]> = []
    for (let at = 0; at < acc.length;) {
      const parsed = parseAnswer(acc, at)
      expect(parsed.done).toBe(true)
      seen.push([parsed.status, parsed.close])
      at += parsed.used
    }
    expect(seen).toEqual([[200, false], [200, false], [200, false], [201, true]])
  })
})
