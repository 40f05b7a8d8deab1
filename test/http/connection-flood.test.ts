/**
 * A flood of idle HTTP connections (no token needed to open one) against the real service whose open-file
 * limit is low: the connection cap keeps descriptors for the blockstore, so an upload on a connection held
 * from before the flood is still pinned and /health stays ok; once the flood ends, new connections work.
 * Without the cap the upload answered 500 (EMFILE creating its block files) and /health failed. The flood comes
 * from one address, so a client from another still connects (without the per-address share it was refused).
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'

const TOKEN = 'pinery_flood-test-admin'
const FILE_LIMIT = 300

let dataDir: string
let service: ServerProcess

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pinery-flood-'))
  service = await startServerProcess({ ...serverEnv(dataDir, TOKEN), PINERY_MAX_HTTP_CONNECTIONS: '64' })
  execFileSync('prlimit', ['--pid', String(service.child.pid), `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`])
})

afterAll(async () => {
  await service?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

/** One request on `agent`'s connection; resolves with the status and body. */
async function call (agent: Agent, method: string, path: string, body?: Buffer): Promise<[number, string]> {
  return await new Promise((resolve, reject) => {
    const req = request(`${service.url}${path}`, { method, agent, headers: { authorization: `Bearer ${TOKEN}` } },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => { text += chunk.toString() })
        res.on('end', () => { resolve([res.statusCode ?? 0, text]) })
      })
    req.on('error', reject)
    req.end(body)
  })
}

/** Opens `n` idle connections, as fast as they are accepted. */
async function flood (n: number): Promise<Socket[]> {
  const url = new URL(service.url)
  return await Promise.all(Array.from({ length: n }, async () => await new Promise<Socket>((resolve) => {
    const socket = connect(Number(url.port), url.hostname, () => { resolve(socket) })
    socket.on('error', () => { resolve(socket) })
  })))
}

describe('a flood of idle HTTP connections', () => {
  it('leaves the service the descriptors it needs to store and pin', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      expect((await call(agent, 'GET', '/health'))[0]).toBe(200)
      const idle = await flood(FILE_LIMIT + 100)
      try {
        const bytes = Buffer.alloc(3_000_000)
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) & 255
        const [status, body] = await call(agent, 'POST', '/content?name=during-flood', bytes)
        expect(status, body).toBe(202)
        expect(JSON.parse(body)).toMatchObject({ status: 'pinned' })
        const [health, report] = await call(agent, 'GET', '/health')
        expect(health, report).toBe(200)
        // The flood came from one address: a client from another still gets in (per-address share: 64 / 4).
        const from = { keepAlive: false, localAddress: '127.0.0.2' }
        const other = new Agent(from as ConstructorParameters<typeof Agent>[0])
        expect((await call(other, 'GET', '/health'))[0]).toBe(200)
      } finally {
        for (const socket of idle) socket.destroy()
      }
      // The held connection may have been closed meanwhile; a fresh agent opens a new one.
      const fresh = new Agent({ keepAlive: false })
      await expect.poll(async () => (await call(fresh, 'GET', '/health'))[0], { timeout: 10_000 }).toBe(200)
    } finally {
      agent.destroy()
    }
  })
})
