/**
 * A blockstore that cannot be written: the affected pins fail with the
 * reason, the API keeps answering, /health turns 503; once the fault
 * clears, new pins work again. (Tests run as root here, where chmod does
 * not stop writes, so the blocks directory is swapped for a plain file.)
 */
import { rename, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { startService, waitFor, type TestService } from './fixtures/service.js'

describe('storage faults', () => {
  let service: TestService
  let origin: Origin
  beforeAll(async () => {
    origin = await startOrigin()
    service = await startService()
  })
  afterAll(async () => {
    await service.destroy()
    await origin.stop()
  })

  const settle = async (requestid: string): Promise<{ status: string, info?: Record<string, string> }> =>
    await waitFor(async () => {
      const s = await service.client().pinsRequestidGet({ requestid })
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 30_000, `${requestid} to settle`)

  it('fails the affected pins with the reason, keeps answering, reports 503, and recovers', async () => {
    const before = await service.client()
      .pinsPost({ pin: { cid: (await origin.addRandomFile(1)).cid.toString(), origins: origin.addrs } })
    expect((await settle(before.requestid)).status).toBe('pinned')

    const blocks = join(service.dataDir, 'blocks')
    await rename(blocks, `${blocks}.away`)
    await writeFile(blocks, 'not a directory')
    try {
      const hit = await service.client()
        .pinsPost({ pin: { cid: (await origin.addRandomFile(1)).cid.toString(), origins: origin.addrs } })
      const failed = await settle(hit.requestid)
      expect(failed.status).toBe('failed')
      expect(failed.info?.status_details).toMatch(/ENOTDIR|not a directory/i)

      // /health reuses its storage checks for 2 s: the fault shows within that.
      const health = await waitFor(async () => {
        const res = await service.request('/health', { user: null }); return res.status === 503 ? res : undefined
      }, 5000, '/health to fail')
      expect(health.status).toBe(503)
      expect(await health.json()).toMatchObject({ failing: ['blockstore'] })
      // The API keeps answering, and earlier pins are intact.
      expect((await service.client().pinsRequestidGet({ requestid: before.requestid })).status).toBe('pinned')
    } finally {
      await rm(blocks, { force: true })
      await rename(`${blocks}.away`, blocks)
    }

    expect(await waitFor(async () => {
      const res = await service.request('/health', { user: null }); return res.status === 200 ? 200 : undefined
    }, 5000, '/health to recover')).toBe(200)
    const after = await service.client()
      .pinsPost({ pin: { cid: (await origin.addRandomFile(1)).cid.toString(), origins: origin.addrs } })
    expect((await settle(after.requestid)).status).toBe('pinned')
  })
})
