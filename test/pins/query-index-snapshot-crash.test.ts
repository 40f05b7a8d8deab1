/**
 * The index snapshot with the service as a child process: a clean stop writes
 * it and the next start uses it; pins created and deleted after that start,
 * then a SIGKILL (no clean stop, so the snapshot on disk is the old one), and
 * the restarted service still answers every list, filter and count exactly.
 */
import { once } from 'node:events'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startServerProcess, type ServerProcess } from '../fixtures/process.js'

const TOKEN = 'pinery_snapshot-crash-admin-token'
// Identity CIDs: pinned at once, no network.
const CIDS = ['bafkqaaa', 'bafkqaatine', 'bafkqaaik', 'bafkqaaiq']
const ALL = 'status=queued,pinning,pinned,failed&limit=1000'

interface Listed { count: number, results: Array<{ requestid: string, pin: { name?: string } }> }

describe('index snapshot across a SIGKILL', () => {
  let server: ServerProcess | undefined
  let dataDir: string | undefined
  afterEach(async () => {
    await server?.stop()
    if (dataDir != null) await rm(dataDir, { recursive: true, force: true })
  })

  async function start (): Promise<ServerProcess> {
    server = await startServerProcess({
      PINERY_DATA_DIR: dataDir as string,
      PINERY_HTTP_PORT: '0',
      PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0',
      PINERY_ADMIN_TOKEN: TOKEN
    })
    return server
  }
  async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${(server as ServerProcess).url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body != null ? { body: JSON.stringify(body) } : {})
    })
    expect(res.status).toBeLessThan(300)
    return (res.status === 202 && method === 'DELETE' ? undefined : await res.json()) as T
  }
  async function add (i: number): Promise<string> {
    const body = { cid: CIDS[i % CIDS.length], name: `doc-${i % 3}` }
    return (await call<{ requestid: string }>('POST', '/pins', body)).requestid
  }
  /** What the service lists: every request ID, and the count of one name filter. */
  async function listed (): Promise<{ ids: string[], named: number }> {
    const all = await call<Listed>('GET', `/pins?${ALL}`)
    expect(all.count).toBe(all.results.length)
    const named = await call<Listed>('GET', `/pins?${ALL}&name=doc-1&match=exact`)
    return { ids: all.results.map(r => r.requestid).sort(), named: named.count }
  }

  it('answers exactly after writes made since the last clean stop and a kill', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pinery-snapshot-crash-'))
    await start()
    const live = new Set<string>()
    for (let i = 0; i < 12; i++) live.add(await add(i))
    await (server as ServerProcess).stop()
    expect((await stat(join(dataDir, 'index.snapshot'))).size).toBeGreaterThan(0)

    await start()
    expect((await listed()).ids).toEqual([...live].sort())
    for (let i = 12; i < 20; i++) live.add(await add(i))
    for (const id of [...live].slice(0, 5)) { await call('DELETE', `/pins/${id}`); live.delete(id) }
    const before = await listed()
    expect(before.ids).toEqual([...live].sort())

    const { child } = server as ServerProcess
    child.kill('SIGKILL')
    await once(child, 'exit')
    await start()
    expect(await listed()).toEqual(before)
  })
})
