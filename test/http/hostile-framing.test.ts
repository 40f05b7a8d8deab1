/**
 * Hostile input over a raw socket, for what node:http will not send: Content-Length mismatches and broken
 * framing. Node's own parser refuses the framing before the app; the answer is still a 4xx with a JSON Failure
 * body. Afterwards every pin made before is as it was, odd but legal requests are served and a normal pin
 * works. The barrage and its rules: test/fixtures/hostile.ts.
 */
import { describe, expect, it } from 'vitest'
import {
  instantCid, VALID, svc, pre, preId, token, send, expectFailureBody, enc, caseTable, NOT_JSON, rawHead,
  expectPinsIntact, describeBarrage, type WirePinStatus
} from '../fixtures/hostile.js'
import { RawConnection, type RawResponse } from '../fixtures/raw-http.js'

const { cases } = caseTable()

describeBarrage('hostile input: raw sockets', cases, {
  during: () => {
    describe('Content-Length mismatches and bodies over a raw socket', () => {
      it('a body longer than its Content-Length: the declared part is answered as broken JSON', async () => {
        const conn = new RawConnection(svc.url)
        try {
          conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 5']) +
            `{"cid":"${VALID}"}`.slice(0, 5))
          await conn.waitFor(1)
          expect(conn.responses).toHaveLength(1)
          const first = conn.responses[0] as RawResponse
          expect(first.status).toBe(400)
          expect(first.headers['content-type']).toMatch(/^application\/json/)
          expect(expectFailureBody(first.body, 400, first.body)).toMatch(NOT_JSON)
          // The rest of the body arrives as the next "request": Node's parser refuses it, and the
          // server's clientError handler answers 400 with a Failure body and closes.
          conn.write(`{"cid":"${VALID}"}`.slice(5))
          await conn.waitClosed()
          expect(conn.closed).toBe(true)
          expect(conn.responses.map(r => r.status)).toEqual([400, 400])
          expectFailureBody(conn.responses[1]?.body ?? '', 400, 'the refused remainder')
        } finally {
          conn.destroy()
        }
      })

      it('Content-Length: 0 followed by a body: an empty body (no cid), then the rest is refused', async () => {
        const conn = new RawConnection(svc.url)
        try {
          conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 0']))
          await conn.waitFor(1)
          const first = conn.responses[0] as RawResponse
          expect(first.status).toBe(400)
          expect(first.headers['content-type']).toMatch(/^application\/json/)
          expect(expectFailureBody(first.body, 400, first.body)).toMatch(/cid: is required/)
          conn.write(JSON.stringify({ cid: VALID }))
          await conn.waitClosed()
          expect(conn.closed).toBe(true)
          expect(conn.responses.map(r => r.status)).toEqual([400, 400])
        } finally {
          conn.destroy()
        }
      })

      it('a body shorter than its Content-Length: the service waits for the rest and meanwhile serves others',
        async () => {
          const conn = new RawConnection(svc.url)
          try {
            conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 500']) +
              JSON.stringify({ cid: VALID }))
            await new Promise(resolve => setTimeout(resolve, 300))
            // HTTP gives the server no way to tell a slow client from a short body: it must not answer yet.
            expect(conn.responses).toHaveLength(0)
            expect(conn.closed).toBe(false)
            const other = await svc.request('/pins', { user: 'alice' })
            expect(other.status).toBe(200)
            await other.text()
          } finally {
            conn.destroy()
          }
        })

      it('a declared 10 GB body is refused with 413 at once, without waiting for it', async () => {
        const conn = new RawConnection(svc.url)
        try {
          const started = Date.now()
          conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 10000000000']) +
            '{"cid": "')
          await conn.waitFor(1, 5000)
          expect(conn.responses).toHaveLength(1)
          expect(Date.now() - started).toBeLessThan(5000)
          const first = conn.responses[0] as RawResponse
          expect(first.status).toBe(413)
          expect(first.headers['content-type']).toMatch(/^application\/json/)
          expectFailureBody(first.body, 413, first.body)
        } finally {
          conn.destroy()
        }
      })

      it('a body on GET is ignored, and the connection stays usable for the next request', async () => {
        const conn = new RawConnection(svc.url)
        try {
          conn.write(rawHead('GET', '/pins', ['Content-Type: application/json', 'Content-Length: 15']) +
            '{"garbage": [}}' +
            rawHead('GET', '/pins?limit=1', ['Connection: close']))
          await conn.waitClosed()
          expect(conn.responses.map(r => r.status)).toEqual([200, 200])
          expect(JSON.parse(conn.responses[0]?.body as string)).toMatchObject({ count: pre.length })
          expect((JSON.parse(conn.responses[1]?.body as string) as { results: unknown[] }).results).toHaveLength(1)
        } finally {
          conn.destroy()
        }
      })
    })

    // Broken framing is refused by Node's HTTP parser before Express ever sees the request; the
    // server's clientError handler answers 400 (431 for oversized headers) with a JSON Failure
    // body and closes. An unknown Expect gets Node's own 417 (no body, connection kept).
    describe('broken framing is refused before the app, still with a Failure body', () => {
      const host = (): string => `Host: ${new URL(svc.url).host}`
      const jsonHead = (...extra: string[]): string =>
        rawHead('POST', '/pins', ['Content-Type: application/json', ...extra])
      // `bare`: Node answers these itself after parsing, without the clientError hook (no body).
      const FRAMING: Array<{
        what: string
        bytes: () => string | Buffer
        status: number | null
        halfClose?: boolean
        bare?: boolean
      }> = [
        { what: 'Content-Length not a number', bytes: () => jsonHead('Content-Length: abc') + '{}', status: 400 },
        { what: 'a negative Content-Length', bytes: () => jsonHead('Content-Length: -1') + '{}', status: 400 },
        {
          what: 'Content-Length over 2^64',
          bytes: () => jsonHead('Content-Length: 99999999999999999999999') + '{}',
          status: 400
        },
        {
          what: 'two different Content-Lengths',
          bytes: () => jsonHead('Content-Length: 2', 'Content-Length: 3') + '{} ',
          status: 400
        },
        {
          what: 'Content-Length and chunked together',
          bytes: () => jsonHead('Content-Length: 2', 'Transfer-Encoding: chunked') + '2\r\n{}\r\n0\r\n\r\n',
          status: 400
        },
        {
          what: 'a body shorter than Content-Length, then the client stops sending',
          bytes: () => jsonHead('Content-Length: 500') + '{"cid": "',
          status: 400,
          halfClose: true
        },
        {
          what: 'a chunk size that is not hex',
          bytes: () => jsonHead('Transfer-Encoding: chunked') + 'zz\r\n{}\r\n0\r\n\r\n',
          status: 400
        },
        {
          what: 'Transfer-Encoding gzip without chunked',
          bytes: () => jsonHead('Transfer-Encoding: gzip') + '{}',
          status: 400
        },
        {
          what: 'a control character in the token',
          bytes: () => ['GET /pins HTTP/1.1', host(), 'Authorization: Bearer a\u0001b', '', ''].join('\r\n'),
          status: 400
        },
        { what: 'a NUL in a header', bytes: () => rawHead('GET', '/pins', ['X-Junk: a\u0000b']), status: 400 },
        {
          what: 'raw UTF-8 bytes in the path',
          bytes: () => Buffer.concat([
            Buffer.from('GET /pins/'), Buffer.from('ü🌲', 'utf8'), Buffer.from(` HTTP/1.1\r\n${host()}\r\n\r\n`)
          ]),
          status: 400
        },
        { what: 'a space in the path', bytes: () => rawHead('GET', '/pins/a b'), status: 400 },
        { what: 'an unknown method', bytes: () => rawHead('BREW', '/pins'), status: 400 },
        { what: 'a header line without a colon', bytes: () => rawHead('GET', '/pins', ['Garbage']), status: 400 },
        { what: 'a folded header line', bytes: () => rawHead('GET', '/pins', ['X-A: a', ' b']), status: 400 },
        { what: 'bare LF line endings', bytes: () => rawHead('GET', '/pins').replaceAll('\r\n', '\n'), status: 400 },
        {
          what: 'HTTP/1.1 without Host',
          bytes: () => ['GET /pins HTTP/1.1', `Authorization: Bearer ${token()}`, '', ''].join('\r\n'),
          status: 400,
          bare: true
        },
        // Node's default maxHeaderSize is 16 KiB: a 100 KB token never reaches authentication.
        {
          what: 'a 100 KB token',
          bytes: () =>
            ['GET /pins HTTP/1.1', host(), `Authorization: Bearer ${'a'.repeat(100_000)}`, '', ''].join('\r\n'),
          status: 431
        },
        { what: 'a 20 KB URL', bytes: () => rawHead('GET', `/pins?name=${'a'.repeat(20_000)}`), status: 431 },
        { what: 'an unknown Expect', bytes: () => rawHead('GET', '/pins', ['Expect: teapot']), status: 417 },
        // Without a 'connect' listener Node closes the connection without an answer.
        { what: 'CONNECT', bytes: () => rawHead('CONNECT', '127.0.0.1:1'), status: null }
      ]

      for (const c of FRAMING) {
        it(`${c.what} → ${c.status ?? 'closed without an answer'}`, async () => {
          const conn = new RawConnection(svc.url)
          try {
            conn.write(c.bytes())
            if (c.halfClose === true) conn.socket.end()
            if (c.status === 417) await conn.waitFor(1)
            else await conn.waitClosed()
            if (c.status == null) {
              expect(conn.closed).toBe(true)
              expect(conn.responses).toHaveLength(0)
            } else {
              expect(conn.responses.map(r => r.status)).toEqual([c.status])
              const res = conn.responses[0] as RawResponse
              if (c.status !== 417 && c.bare !== true) {
                expect(res.headers['content-type']).toMatch(/^application\/json/)
                expectFailureBody(res.body, c.status, res.body)
              }
              if (c.status !== 417) expect(conn.closed).toBe(true)
            }
          } finally {
            conn.destroy()
          }
          const after = await svc.request('/pins?limit=1', { user: 'alice' })
          expect(after.status).toBe(200)
          await after.text()
        })
      }
    })
  },
  after: () => {
    it('the scheme is case-insensitive: lowercase bearer (and BEARER, extra blanks) with a valid token works',
      async () => {
        for (const auth of [`bearer ${token()}`, `BEARER ${token()}`, `Bearer   ${token()}  `]) {
          const reply = await send({ path: '/pins', auth })
          expect(reply.status, auth.slice(0, 10)).toBe(200)
          expect(JSON.parse(reply.body)).toMatchObject({ count: pre.length })
        }
      })

    it('odd but legal requests are served: HEAD, a trailing slash, unknown or empty parameters', async () => {
      const head = await send({ method: 'HEAD', path: '/pins' })
      expect(head.status).toBe(200)
      expect(head.body).toBe('')
      for (const path of ['/pins/', '/pins?unknown=1&%=2&=&&&', '/pins?meta%5B%5D=x', `/pins/${preId()}/`]) {
        const reply = await send({ path })
        expect(reply.status, path).toBe(200)
        expect(reply.headers['content-type']).toMatch(/^application\/json/)
        JSON.parse(reply.body)
      }
    })

    it('a name query with a lone surrogate finds nothing, and no pin was matched by accident', async () => {
      // %ED%A0%80 is not UTF-8; it decodes to replacement characters, never to the stored "\ud800".
      const reply = await send({ path: `/pins?name=${enc('lone ')}%ED%A0%80&match=partial` })
      expect(reply.status).toBe(200)
      expect(JSON.parse(reply.body)).toEqual({ count: 0, results: [] })
    })

    it('the service is healthy: a normal POST /pins and GET /pins work', async () => {
      const health = await svc.request('/health', { user: null })
      expect(health.status).toBe(200)
      await health.text()
      const cid = instantCid().toString()
      const created = await svc.request('/pins', {
        method: 'POST',
        user: 'alice',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cid, name: 'after the barrage' })
      })
      expect(created.status).toBe(202)
      const status = await created.json() as WirePinStatus
      expect(status.status).toBe('pinned')
      expect(status.pin).toStrictEqual({ cid, name: 'after the barrage' })
      const list = await svc.request(`/pins?cid=${cid}`, { user: 'alice' })
      expect(list.status).toBe(200)
      const page = await list.json() as { count: number, results: WirePinStatus[] }
      expect(page.count).toBe(1)
      expect(page.results[0]?.requestid).toBe(status.requestid)
      const all = await svc.request('/pins?limit=1000', { user: 'alice' })
      expect(all.status).toBe(200)
      expect((await all.json() as { count: number }).count).toBe(pre.length + 1)
      // And the pins from before the barrage are still exactly as they were.
      await expectPinsIntact(1)
    })
  }
})
