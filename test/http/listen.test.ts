import { createServer, request } from 'node:http'
import { connect } from 'node:net'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
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
})
