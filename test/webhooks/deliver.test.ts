/**
 * One delivery against real servers on 127.0.0.1 that answer in the ways
 * receivers do: kept-alive and reused, chunked, closing the connection, an
 * HTTP/1.0 body read until close, a redirect, an endless answer (at most
 * 64 KiB read), no answer (the timeout), and a kept connection the server
 * closes while it is idle.
 */
import { once } from 'node:events'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { deliver, MAX_RESPONSE_BYTES, type Delivery } from '../../src/webhooks/deliver.js'
import { verify } from '../fixtures/webhook-checks.js'

const policy = { lookup: undefined as never, refusal: () => undefined }
const servers: Array<Server | ReturnType<typeof createNetServer>> = []
const sockets = new Set<Socket>()

afterEach(async () => {
  for (const s of sockets) s.destroy()
  sockets.clear()
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections()
    await new Promise(resolve => { s.close(resolve) })
  }
})

async function listen (server: Server | ReturnType<typeof createNetServer>): Promise<string> {
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
}

/** A raw server answering each request's head with `answer(socket)`. */
async function raw (answer: (socket: Socket) => void): Promise<string> {
  const server = createNetServer((socket) => {
    sockets.add(socket)
    let got = ''
    socket.on('data', (d) => {
      got += d.toString()
      if (got.includes('\r\n\r\n')) { got = ''; answer(socket) }
    })
    socket.on('error', () => {})
  })
  return await listen(server)
}

const send = async (url: string, extra: Partial<Delivery> = {}): ReturnType<typeof deliver> =>
  await deliver({ url, secret: 'whsec_test', eventId: '42', body: '{"id":"42"}', timeoutMs: 2000, policy, ...extra })

describe('deliver', () => {
  it('signs, reuses a kept-alive connection, and survives the server closing it while idle', async () => {
    const seen: Array<{ port: number, headers: Record<string, unknown>, body: string }> = []
    const server = createHttpServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        seen.push({ port: req.socket.remotePort as number, headers: req.headers, body })
        res.end('ok')
      })
    })
    server.keepAliveTimeout = 300
    const url = await listen(server)
    for (let i = 0; i < 3; i++) expect(await send(url)).toMatchObject({ ok: true, status: 200 })
    expect(new Set(seen.map(s => s.port)).size).toBe(1)
    expect(seen[0]?.headers['pinery-event-id']).toBe('42')
    expect(seen[0]?.body).toBe('{"id":"42"}')
    expect(verify('whsec_test', seen[0]?.headers['pinery-signature'] as string, seen[0]?.body as string)).toBe(true)
    // The server closes the idle connection; the next delivery goes through on a new one.
    await new Promise(resolve => setTimeout(resolve, 600))
    expect(await send(url)).toMatchObject({ ok: true, status: 200 })
    expect(seen).toHaveLength(4)
  })

  it('reads chunked, closing and HTTP/1.0 answers', async () => {
    const chunked = await raw(s => s.write('HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n' +
      '2\r\nok\r\n0\r\n\r\n'))
    expect(await send(chunked)).toMatchObject({ ok: true, status: 201 })
    expect(await send(chunked)).toMatchObject({ ok: true, status: 201 })
    const closing = await raw(s => s.end('HTTP/1.1 500 Oops\r\nconnection: close\r\ncontent-length: 4\r\n\r\nnope'))
    expect(await send(closing)).toMatchObject({ ok: false, status: 500, error: 'answered 500' })
    const old = await raw(s => s.end('HTTP/1.0 200 OK\r\n\r\nfine, until the end'))
    expect(await send(old)).toMatchObject({ ok: true, status: 200 })
    const interim = await raw(s => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'))
    expect(await send(interim)).toMatchObject({ ok: true, status: 204 })
  })

  it('refuses answers whose framing is broken, without hanging on them', async () => {
    // "-6" once sent the chunk parser back to the start of its own line, for ever (the whole process hung).
    for (const size of ['-6', '-4', 'zz', '+2', '0x2', '123456789']) {
      const url = await raw(s => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' +
        `${size}\r\nok\r\n0\r\n\r\n`))
      expect(await send(url)).toMatchObject({ ok: false, error: 'bad answer: bad chunk size' })
    }
    // A content-length that is not digits is no length: the body is read until close (or 64 KiB).
    const odd = await raw(s => s.end('HTTP/1.1 200 OK\r\ncontent-length: 1e1\r\n\r\n0123456789 and more'))
    expect(await send(odd)).toMatchObject({ ok: true, status: 200 })
  })

  it('does not follow redirects', async () => {
    const url = await raw(s => s.write('HTTP/1.1 302 Found\r\n' +
      'location: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n'))
    expect(await send(url)).toMatchObject({ ok: false, status: 302, error: 'answered 302; redirects are not followed' })
  })

  it('reads at most 64 KiB of an endless answer, and times out on none', async () => {
    let written = 0
    const endless = await raw((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n')
      const more = (): void => {
        while (!s.destroyed && written < 10 * MAX_RESPONSE_BYTES && s.write(Buffer.alloc(4096))) written += 4096
      }
      s.on('drain', more)
      more()
    })
    const big = await send(endless)
    expect(big).toMatchObject({ ok: true, status: 200 })
    expect(big.latencyMs).toBeLessThan(1500)
    const silent = await raw(() => {})
    const started = Date.now()
    expect(await send(silent, { timeoutMs: 300 })).toMatchObject({ ok: false, error: 'no answer within 300 ms' })
    expect(Date.now() - started).toBeLessThan(1500)
    const refused = await send('http://127.0.0.1:1/hook')
    expect(refused.ok).toBe(false)
    expect(refused.error).toMatch(/ECONNREFUSED/)
  })

  it('pipelines deliveries made together, and sends again what a closing connection left unanswered', async () => {
    const seen: Array<{ port: number, id: string }> = []
    let n = 0
    const server = createHttpServer((req, res) => {
      req.resume()
      req.on('end', () => {
        seen.push({ port: req.socket.remotePort as number, id: req.headers['pinery-event-id'] as string })
        // Every third answer ends its connection, with pipelined requests still unanswered on it.
        if (++n % 3 === 0) res.setHeader('connection', 'close')
        res.end('ok')
      })
    })
    const url = await listen(server)
    const results = await Promise.all(Array.from({ length: 8 }, async (_, i) =>
      await send(url, { eventId: String(i) })))
    for (const r of results) expect(r).toMatchObject({ ok: true, status: 200 })
    expect(new Set(seen.map(s => s.id))).toEqual(new Set(Array.from({ length: 8 }, (_, i) => String(i))))
    // Fewer connections than requests: the first three went on one.
    expect(new Set(seen.map(s => s.port)).size).toBeLessThan(8)
    // Retries go alone: each on a connection of its own.
    seen.length = 0
    const alone = await Promise.all(Array.from({ length: 4 }, async (_, i) =>
      await send(url, { eventId: `r${i}`, alone: true })))
    for (const r of alone) expect(r).toMatchObject({ ok: true, status: 200 })
    expect(new Set(seen.map(s => s.port)).size).toBe(4)
  })

  it('stops when aborted', async () => {
    const silent = await raw(() => {})
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 100)
    expect(await send(silent, { signal: controller.signal })).toMatchObject({ ok: false, error: 'cancelled' })
  })
})
