/**
 * What the offline CLI changes on a stopped data dir has its event, as every change the service makes
 * (issue 13): `pinery verify --repair` sends a pinned request back to `queued`, and `pinery user delete
 * --remove-pins` deletes a user's requests. Both wrote the records alone, so a client following the
 * events, or a webhook, saw the request pinned, then pinned again (or never deleted). Now each change
 * lands with its pin.queued or pin.deleted in the same batch, and the next start streams them in order.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { base32upper } from 'multiformats/bases/base32'
import { afterAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { CLI, run, serverEnv, startServerProcess } from './fixtures/process.js'
import { openSse, type SseFrame } from './fixtures/sse.js'
import type { CID } from 'multiformats/cid'

const TOKEN = 'pinery_offline-events-admin'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
let dataDir: string | undefined
let origin: Origin | undefined

afterAll(async () => {
  await origin?.stop()
  if (dataDir != null) await rm(dataDir, { recursive: true, force: true })
})

/** Where blockstore-fs keeps a block: the multihash in base32upper, sharded by its last two letters. */
function blockFile (dir: string, cid: CID): string {
  const name = base32upper.encode(cid.multihash.bytes)
  return join(dir, 'blocks', name.slice(-2), `${name}.data`)
}

const about = (requestid: string) => (frames: SseFrame[]): string[] => frames
  .filter(f => (JSON.parse(f.data) as { pin: { requestid: string } }).pin.requestid === requestid).map(f => f.event)

describe('offline changes', () => {
  it('are written with their events: pin.queued for verify --repair, pin.deleted for a user deletion', async () => {
    const dir = dataDir = await mkdtemp(join(tmpdir(), 'pinery-offline-events-'))
    origin = await startOrigin()
    const cid = await origin.addFile(randomBytes(1_500_000))
    let service = await startServerProcess(serverEnv(dir, TOKEN))
    let requestid: string
    let bobs: string
    try {
      const res = await fetch(`${service.url}/pins`, {
        method: 'POST', headers, body: JSON.stringify({ cid: cid.toString(), origins: origin.addrs })
      })
      requestid = (await res.json() as { requestid: string }).requestid
      const created = await fetch(`${service.url}/users`, { method: 'POST', headers, body: '{"name":"bob"}' })
      expect(created.status).toBe(201)
      const token = await fetch(`${service.url}/users/bob/tokens`, { method: 'POST', headers, body: '{}' })
      const { secret } = await token.json() as { secret: string }
      const bob = await fetch(`${service.url}/pins`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${secret}` },
        body: JSON.stringify({ cid: 'bafkqaaa', name: 'bobs' })
      })
      expect(bob.status).toBe(202)
      bobs = (await bob.json() as { requestid: string }).requestid
      const stream = await openSse(`${service.url}/events?all=true`, { ...headers, 'last-event-id': '0' })
      await stream.until(frames => about(requestid)(frames).includes('pin.pinned'))
      stream.close()
    } finally {
      await service.stop()
    }

    // A leaf goes missing; the repair sends the request back to the queue, and bob is deleted offline.
    const leaf = dagPb.decode(await readFile(blockFile(dir, cid))).Links[1]?.Hash as CID
    await unlink(blockFile(dir, leaf))
    const repair = await run(CLI, ['verify', '--repair'], { PINERY_DATA_DIR: dir })
    expect(repair.stdout).toContain('Sent 1 pinned requests back to the queue')
    const deleted = await run(CLI, ['user', 'delete', 'bob', '--remove-pins'], { PINERY_DATA_DIR: dir })
    expect(deleted.code).toBe(0)

    service = await startServerProcess(serverEnv(dir, TOKEN))
    try {
      const stream = await openSse(`${service.url}/events?all=true`, { ...headers, 'last-event-id': '0' })
      // Fetched again from the origin: pinned a second time.
      await stream.until(frames => about(requestid)(frames).filter(e => e === 'pin.pinned').length === 2)
      stream.close()
      const mine = about(requestid)(stream.frames)
      const again = mine.indexOf('pin.pinned') + 1
      expect(mine.slice(again, again + 1)).toEqual(['pin.queued'])
      expect(about(bobs)(stream.frames)).toEqual(['pin.pinned', 'pin.deleted'])
      // Strictly increasing ids: the offline writes took ids above the service's, and the next start above theirs.
      const ids = stream.frames.map(f => Number(f.id))
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      expect(new Set(ids).size).toBe(ids.length)
    } finally {
      await service.stop()
    }
  })
})
