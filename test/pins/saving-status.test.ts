/**
 * What a `pinning` request reads once its DAG is all fetched and its blocks are being made durable: "saving N
 * blocks, M bytes", not the fetch's last count frozen for as long as the fsyncs take (nor "connecting to
 * providers", which a status read across the job's end said). A slow disk (fixtures/slow-sync.c: every fsync
 * waits 40 ms) makes the moment long enough to see; a real Pinery process and a real origin over TCP.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { slowSyncEnv } from '../fixtures/slow-sync.js'

const TOKEN = 'pinery_saving-status-admin'
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }

let dir: string | undefined
let server: ServerProcess | undefined
let origin: Origin | undefined
afterAll(async () => {
  await server?.stop()
  await origin?.stop()
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

interface Status { requestid: string, status: string, info?: { status_details?: string } }

describe('a pin whose blocks are all fetched', () => {
  it('reads "saving" while they are made durable', async () => {
    const base = dir = await mkdtemp(join(tmpdir(), 'pinery-saving-'))
    const cue = join(base, 'slow')
    await writeFile(cue, '40')
    server = await startServerProcess({
      ...serverEnv(join(base, 'data'), TOKEN), ...await slowSyncEnv(cue)
    })
    const url = server.url
    origin = await startOrigin()
    // 12 MiB: 49 blocks, under the count from which one syncfs (which the cue does not slow) makes them durable.
    const { cid } = await origin.addRandomFile(12)
    const made = await fetch(`${url}/pins`, {
      method: 'POST', headers, body: JSON.stringify({ cid: cid.toString(), origins: origin.addrs })
    })
    const { requestid } = await made.json() as Status
    const seen: string[] = []
    for (;;) {
      const s = await (await fetch(`${url}/pins/${requestid}`, { headers })).json() as Status
      const line = `${s.status}: ${s.info?.status_details ?? ''}`
      if (seen.at(-1) !== line) seen.push(line)
      if (s.status !== 'queued' && s.status !== 'pinning') break
    }
    expect(seen.at(-1)).toBe('pinned: ')
    // Old code: "pinning: fetched 49 blocks, …" until pinned, the same words as while the blocks came.
    expect(seen).toContainEqual(expect.stringMatching(/^pinning: saving 49 blocks, \d+ bytes$/))
    expect(seen.filter(s => s.includes('connecting to providers'))).toEqual([])
    // Once saving, never a fetch again.
    const saving = seen.findIndex(s => s.includes(': saving'))
    expect(seen.slice(saving).filter(s => s.includes('fetched'))).toEqual([])
  })
})
