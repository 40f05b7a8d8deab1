import { createServer, request } from 'node:http'
import { connect } from 'node:net'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { addressGroup, connectionCap, perAddressCap } from '../../src/connection-limits.js'
import { listenHttp } from '../../src/http/listen.js'

const init = { host: '127.0.0.1', port: 0, requestTimeoutMs: 5000, closeGraceMs: 300 }

describe('listenHttp', () => {
  it('answers with the bound URL and refuses a taken port with a ConfigError naming it', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const app = express()
      await expect(listenHttp({ ...init, port }, { app, uploads: new WeakSet() }))
        .rejects.toThrow(new ConfigError(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`))
      const http = await listenHttp(init, { app, uploads: new WeakSet() })
      expect(http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      await http.close()
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
  })

  it('lets an in-flight response finish, then cuts a connection that stays busy after the grace', async () => {
    const app = express()
    app.get('/slow', (_req, res) => { setTimeout(() => res.send('done'), 100) })
    app.get('/hang', () => { /* never answers */ })
    const http = await listenHttp(init, { app, uploads: new WeakSet() })
    const get = async (path: string): Promise<string> => await new Promise((resolve, reject) => {
      request(`${http.url}${path}`, res => {
        let body = ''
        res.on('data', (chunk: Buffer) => { body += chunk.toString() })
        res.on('end', () => { resolve(body) })
      }).on('error', reject).end()
    })
    const slow = get('/slow')
    const hang = get('/hang').then(() => 'answered', (err: Error) => err.message)
    await new Promise(resolve => setTimeout(resolve, 30))
    const started = Date.now()
    await http.close()
    expect(await slow).toBe('done')
    expect(await hang).toBe('socket hang up')
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
  })

  it('answers a request the parser refuses with a Failure body', async () => {
    const http = await listenHttp(init, { app: express(), uploads: new WeakSet() })
    try {
      const url = new URL(http.url)
      const reply = await new Promise<string>((resolve, reject) => {
        let text = ''
        const socket = connect(Number(url.port), url.hostname, () => { socket.write('NOT HTTP\r\n\r\n') })
        socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
        socket.on('end', () => { resolve(text) })
        socket.on('error', reject)
      })
      expect(reply).toMatch(/^HTTP\/1\.1 400 BAD REQUEST\r\n/)
      expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toEqual({
        error: { reason: 'BAD_REQUEST', details: 'the request could not be read as HTTP' }
      })
    } finally {
      await http.close()
    }
  })

  it('caps the connection count at a quarter of the open-file limit, never below 8', () => {
    expect(connectionCap(1024, 20_000)).toBe(1024)
    expect(connectionCap(1024, 300)).toBe(75)
    expect(connectionCap(1024, 16)).toBe(8)
    expect(connectionCap(64, undefined)).toBe(64)
  })

  it('gives one remote address at most a quarter of the cap, never below 4', () => {
    expect(perAddressCap(1024)).toBe(256)
    expect(perAddressCap(1024, 100)).toBe(100)
    expect(perAddressCap(64, 256)).toBe(16)
    expect(perAddressCap(8, 256)).toBe(4)
  })

  it('counts an IPv4-mapped address as the IPv4 one, and IPv6 addresses by their /64', () => {
    expect(addressGroup('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(addressGroup('127.0.0.1')).toBe('127.0.0.1')
    expect(addressGroup('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(addressGroup('2001:DB8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64')
    expect(addressGroup('2001:db8:1:3::1')).not.toBe(addressGroup('2001:db8:1:2::1'))
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressGroup('::1')).toBe('0:0:0:0::/64')
    expect(addressGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressGroup('')).toBe('')
  })

  it("closes an address's connections beyond its share while other addresses still connect", async () => {
    const app = express()
    app.get('/', (_req, res) => { res.send('ok') })
    const warnings: unknown[] = []
    const http = await listenHttp({ ...init, maxConnections: 8, maxConnectionsPerAddress: 2 },
      { app, uploads: new WeakSet(), logger: { warn: (obj: unknown) => { warnings.push(obj) } } })
    const url = new URL(http.url)
    const sockets: Array<ReturnType<typeof connect>> = []
    /** Opens a connection from `from`; resolves with whether the server closed it within 1 s. */
    const closedSoon = async (from: string): Promise<boolean> => await new Promise((resolve, reject) => {
      const socket = connect({ port: Number(url.port), host: url.hostname, localAddress: from }, () => {
        const timer = setTimeout(() => { resolve(false) }, 1000)
        socket.once('close', () => { clearTimeout(timer); resolve(true) })
      })
      sockets.push(socket)
      socket.on('error', reject)
    })
    try {
      expect(await Promise.all([closedSoon('127.0.0.1'), closedSoon('127.0.0.1')])).toEqual([false, false])
      expect(await closedSoon('127.0.0.1')).toBe(true)
      expect(await closedSoon('127.0.0.2')).toBe(false)
      expect(warnings).toEqual([{ dropped: 1, maxConnectionsPerAddress: 2 }])
      // A closed connection gives its address's place back.
      sockets[0]?.destroy()
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(await closedSoon('127.0.0.1')).toBe(false)
    } finally {
      for (const socket of sockets) socket.destroy()
      await http.close()
    }
  })

  it('closes connections beyond the cap at once and keeps serving the ones it holds', async () => {
    const app = express()
    app.get('/', (_req, res) => { res.send('ok') })
    const warnings: unknown[] = []
    const http = await listenHttp({ ...init, maxConnections: 3 },
      { app, uploads: new WeakSet(), logger: { warn: (obj: unknown) => { warnings.push(obj) } } })
    const url = new URL(http.url)
    /** Opens a connection; resolves with it and a promise of whether the server closed it. */
    const open = async (): Promise<{ closed: Promise<boolean>, socket: ReturnType<typeof connect> }> =>
      await new Promise((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          resolve({ socket, closed: new Promise(resolve => { socket.once('close', () => { resolve(true) }) }) })
        })
        socket.on('error', reject)
      })
    const held = await Promise.all([open(), open(), open()])
    try {
      const extra = await open()
      expect(await Promise.race([extra.closed, new Promise(resolve => setTimeout(() => { resolve(false) }, 2000))]))
        .toBe(true)
      const reply = await new Promise<string>((resolve) => {
        held[0]?.socket.once('data', (d: Buffer) => { resolve(d.toString()) })
        held[0]?.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
      })
      expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*ok$/)
      expect(warnings).toEqual([{ dropped: 1, maxConnections: 3 }])
    } finally {
      for (const h of held) h.socket.destroy()
      await http.close()
    }
  })
})
