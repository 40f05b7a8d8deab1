/**
 * Backups taken while pins are added, replaced and deleted, uploads are cut off mid-body and garbage is collected
 * every 100 ms: each one restores, and every DAG it says is pinned is whole (restore's verify passes). A client
 * that stops reading a backup without hanging up does not keep garbage collection held or later backups out.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blockstoreUsage } from '../src/node/storage.js'
import { CLI, run, serverEnv, startServerProcess, type ServerProcess } from './fixtures/process.js'

const TOKEN = 'pinery_backup-churn-admin'
const headers = { authorization: `Bearer ${TOKEN}` }
const CHURN_MS = Number(process.env.CHURN_MS ?? 6000)
let root: string
let service: ServerProcess

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pinery-churn-'))
  service = await startServerProcess({
    ...serverEnv(join(root, 'source'), TOKEN), PINERY_GC_INTERVAL_MS: '100', PINERY_REQUEST_TIMEOUT_MS: '1000'
  })
}, 60_000)

afterAll(async () => {
  await service?.stop()
  await rm(root, { recursive: true, force: true })
})

/** Uploads `size` random bytes; resolves with the request and its CID, or undefined when not pinned. */
async function upload (size: number): Promise<{ requestid: string, cid: string } | undefined> {
  const res = await fetch(`${service.url}/content`, { method: 'POST', headers, body: randomBytes(size) })
  if (!res.ok) return undefined
  const body = await res.json() as { requestid: string, status: string, pin: { cid: string } }
  return body.status === 'pinned' ? { requestid: body.requestid, cid: body.pin.cid } : undefined
}

/** Starts an upload and cuts it off after about `size` bytes: the service discards what it stored. */
async function cutUpload (size: number): Promise<void> {
  const controller = new AbortController()
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    pull (c) {
      if (sent >= size) { controller.abort(); return }
      sent += 256 * 1024
      c.enqueue(randomBytes(256 * 1024))
    }
  })
  await fetch(`${service.url}/content`, { method: 'POST', headers, body, duplex: 'half', signal: controller.signal })
    .then(async res => await res.body?.cancel(), () => {})
}

describe('a backup under churn', () => {
  it('restores with every pinned DAG whole', async () => {
    const live: Array<{ requestid: string, cid: string }> = []
    const end = Date.now() + CHURN_MS
    const worker = async (n: number): Promise<void> => {
      while (Date.now() < end) {
        const pick = Math.random()
        if (pick < 0.4 || live.length < 4) {
          const added = await upload(1 + Math.floor(Math.random() * 3 * 1024 * 1024))
          if (added != null) live.push(added)
        } else if (pick < 0.6) {
          const [gone] = live.splice(Math.floor(Math.random() * live.length), 1)
          if (gone != null) await fetch(`${service.url}/pins/${gone.requestid}`, { method: 'DELETE', headers })
        } else if (pick < 0.8) {
          const at = Math.floor(Math.random() * live.length)
          const target = live[at]
          const other = live[(at + 1) % live.length]
          if (target == null || other == null) continue
          const res = await fetch(`${service.url}/pins/${target.requestid}`, {
            method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify({ cid: other.cid })
          })
          if (res.ok) {
            const body = await res.json() as { requestid: string }
            live.splice(at, 1, { requestid: body.requestid, cid: other.cid })
          }
        } else {
          await cutUpload((n + 1) * 1024 * 1024)
        }
      }
    }
    const backups: string[] = []
    const backupLoop = async (): Promise<void> => {
      while (Date.now() < end) {
        const res = await fetch(`${service.url}/backup`, { headers })
        expect(res.status).toBe(200)
        const file = join(root, `backup-${backups.length}.tar`)
        await writeFile(file, Buffer.from(await res.arrayBuffer()))
        backups.push(file)
      }
    }
    await Promise.all([worker(0), worker(1), worker(2), backupLoop()])
    expect(backups.length).toBeGreaterThan(2)
    for (const [i, file] of backups.entries()) {
      const restore = await run(CLI, ['--json', 'restore', file], { PINERY_DATA_DIR: join(root, `restored-${i}`) })
      expect(restore.code, `${file}: ${restore.stdout}${restore.stderr}`).toBe(0)
      const report = JSON.parse(restore.stdout) as { verified: { dags: number, damaged: unknown[] } }
      expect(report.verified.damaged).toEqual([])
      if (process.env.CHURN_LOG != null) console.log(file, report.verified)
    }
  }, 180_000)

  it('ends a backup whose client stops reading: the lock and the collection hold are released', async () => {
    // More than the socket buffers take, so the backup waits on its client.
    const big = await upload(24 * 1024 * 1024)
    expect(big).toBeDefined()
    const blocks = join(root, 'source', 'blocks')
    const socket = connect(Number(new URL(service.url).port), '127.0.0.1')
    await once(socket, 'connect')
    socket.write(`GET /backup HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
    await once(socket, 'data')
    socket.pause()
    try {
      // While it runs: a second backup is refused, and a deleted pin's blocks stay.
      expect((await fetch(`${service.url}/backup`, { headers })).status).toBe(409)
      const before = await blockstoreUsage(blocks)
      await fetch(`${service.url}/pins/${big?.requestid}`, { method: 'DELETE', headers })
      await new Promise(resolve => setTimeout(resolve, 300))
      expect((await blockstoreUsage(blocks)).bytes).toBe(before.bytes)
      // Once the idle timeout (1 s) ends it: collected, and the next backup is written.
      await expect.poll(async () => (await blockstoreUsage(blocks)).bytes, { timeout: 10_000 })
        .toBeLessThan(before.bytes - 20 * 1024 * 1024)
      const next = await fetch(`${service.url}/backup`, { headers })
      expect(next.status).toBe(200)
      await next.body?.cancel()
    } finally {
      socket.destroy()
    }
  }, 60_000)
})
