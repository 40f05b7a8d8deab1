/**
 * What Pinery has answered survives a power cut, not only a SIGKILL: the
 * service runs as a child process whose fsyncs are logged, is killed right
 * after answering, and its datastore is cut back to what was durable.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { powerCutCases } from './fixtures/power-cut.js'
import { serverEnv } from './fixtures/process.js'

const TOKEN = 'pinery_power-cut-admin-token'
const headers = { authorization: `Bearer ${TOKEN}` }

describe('power cut', () => {
  const cases = powerCutCases('pinery-power-cut-')
  afterEach(cases.cleanup)

  it('keeps an upload answered pinned pinned, even while the queue is busy', async () => {
    const { dataDir, power, start, kill } = await cases.open()
    const env = {
      ...serverEnv(dataDir, TOKEN),
      // One slot, held by a pin nobody can serve: a request sent back to `queued` stays there.
      PINERY_PIN_CONCURRENCY: '1',
      PINERY_STALL_TIMEOUT_MS: '600000'
    }
    let server = await start({ ...env, ...power.env })
    const nobody = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
    const blocker = await fetch(`${server.url}/pins`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ cid: nobody })
    })
    expect(blocker.status).toBe(202)
    const content = randomBytes(600 * 1024)
    const res = await fetch(`${server.url}/content?name=report`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: content
    })
    expect(res.status).toBe(202)
    const upload = await res.json() as { requestid: string, status: string, pin: { cid: string } }
    expect(upload.status).toBe('pinned')
    await kill()
    const { droppedBytes } = await power.cut()
    // The simulation has teeth: the process had writes that were never made durable.
    expect(droppedBytes).toBeGreaterThan(0)

    server = await start(env)
    const after = await (await fetch(`${server.url}/pins/${upload.requestid}`, { headers })).json() as {
      status: string
    }
    expect(after.status).toBe('pinned')
    const read = await fetch(`${server.url}/ipfs/${upload.pin.cid}`, { headers })
    expect(read.status).toBe(200)
    expect(Buffer.from(await read.arrayBuffer()).equals(content)).toBe(true)
  })
})
