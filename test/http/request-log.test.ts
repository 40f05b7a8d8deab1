/**
 * The request log at its seam (pino-http): one line per answered request with
 * the request id, route, status and duration, the id on the error handler's
 * line too, and neither headers nor bodies in any line.
 */
import { once } from 'node:events'
import { Writable } from 'node:stream'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { errorHandler } from '../../src/http/errors.js'
import { requestLog } from '../../src/http/request-log.js'
import type { Server } from 'node:http'

type Line = Record<string, unknown>

describe('request log', () => {
  const lines: Line[] = []
  const timed: Array<[string, number, number]> = []
  let server: Server
  let url: string
  beforeAll(async () => {
    const destination = new Writable({
      write (chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line)
        done()
      }
    })
    const logger = createLogger({ level: 'debug', destination })
    const app = express()
    app.use(requestLog({
      logger, onFinished: (req, res, seconds) => { timed.push([req.method, res.statusCode, seconds]) }
    }))
    app.get('/fine/:id', (_req, res) => { res.json({ ok: true }) })
    app.get('/broken', () => { throw new Error('the disk is on fire') })
    app.use(errorHandler(logger))
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(async () => { server.close(); await once(server, 'close') })

  it('logs each request once with its id, route pattern, status and ms; headers never', async () => {
    const res = await fetch(`${url}/fine/42`, {
      headers: { 'x-request-id': 'trace-7', authorization: 'Bearer pinery_s3cret', cookie: 'pinery_session=abc' }
    })
    expect(res.headers.get('x-request-id')).toBe('trace-7')
    await res.arrayBuffer()
    const mine = lines.filter(l => l.reqId === 'trace-7')
    expect(mine).toEqual([
      expect.objectContaining({ level: 20, msg: 'request', method: 'GET', route: '/fine/:id', status: 200 })
    ])
    expect(typeof mine[0]?.ms).toBe('number')
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|pinery_session|authorization|cookie/i)
    expect(timed).toContainEqual(['GET', 200, expect.any(Number)])
  })

  it('puts the request id on the unhandled error line, and logs the 500 at info', async () => {
    const res = await fetch(`${url}/broken`, { headers: { 'x-request-id': 'trace-9' } })
    expect(res.status).toBe(500)
    await res.arrayBuffer()
    const mine = lines.filter(l => l.reqId === 'trace-9')
    expect(mine).toContainEqual(expect.objectContaining({ level: 50, msg: 'unhandled error', path: '/broken' }))
    expect(mine).toContainEqual(expect.objectContaining({ level: 30, msg: 'request', status: 500 }))
  })

  it('gives a new id for an insane one', async () => {
    const res = await fetch(`${url}/fine/1`, { headers: { 'x-request-id': 'no spaces or {braces}' } })
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})
