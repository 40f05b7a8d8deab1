/**
 * A pin.progress event's `status_details` reads as the request's own status does ("fetched 1 block", not
 * "fetched 1 blocks"). A real Pinery and a real origin that holds a file's root but not its leaf: the fetch
 * gets one block and stalls, and the progress ticker tells of that one block.
 */
import * as dagPb from '@ipld/dag-pb'
import toBuffer from 'it-to-buffer'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, type TestService } from '../fixtures/service.js'
import { openSse } from '../fixtures/sse.js'

interface Ev { type: string, pin: { requestid: string, info: { status_details?: string } } }

describe('a pin.progress event', () => {
  let service: TestService
  let origin: Origin
  beforeAll(async () => {
    origin = await startOrigin()
    service = await startService({ users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '6000' } })
  })
  afterAll(async () => {
    await service?.destroy()
    await origin?.stop()
  })

  it('counts one block as one, in the words of the status', async () => {
    const cid = await origin.addFile(randomBytes(1000))
    const root = dagPb.decode(await toBuffer(origin.blockstore.get(cid)))
    await origin.blockstore.delete(root.Links[0]?.Hash as typeof cid)
    const stream = await openSse(`${service.url}/events`, { authorization: `Bearer ${service.tokens.alice as string}` })
    try {
      const res = await service.call('POST', '/pins', 'alice', { cid: cid.toString(), origins: origin.addrs })
      const { requestid } = await res.json() as { requestid: string }
      const progress = (): Ev | undefined => stream.frames.filter(f => f.event === 'pin.progress')
        .map(f => JSON.parse(f.data) as Ev).find(e => e.pin.requestid === requestid)
      await stream.until(() => progress() != null, 10_000)
      const details = progress()?.pin.info.status_details
      // Old code: "fetched 1 blocks, … bytes".
      expect(details).toMatch(/^fetched 1 block, \d+ bytes$/)
      const status = await (await service.call('GET', `/pins/${requestid}`, 'alice')).json() as Ev['pin']
      expect(status.info.status_details).toBe(details)
    } finally {
      stream.close()
    }
  })
})
