/**
 * Delegates: the node's own addresses, each ending /p2p/<peerId>, or the
 * configured announce addresses.
 */
import { describe, expect, it } from 'vitest'
import { startService } from '../fixtures/service.js'

describe('delegates', () => {
  it('default to the listen addresses with the peer ID, wildcards expanded', async () => {
    const service = await startService({ env: { PINERY_LISTEN: '/ip4/0.0.0.0/tcp/0' } })
    try {
      const { peerId } = service.pinery.node
      const delegates = service.pinery.node.delegates()
      expect(delegates.length).toBeGreaterThanOrEqual(1)
      expect(delegates.length).toBeLessThanOrEqual(20)
      for (const d of delegates) {
        expect(d).toMatch(new RegExp(`^/ip4/\\d+\\.\\d+\\.\\d+\\.\\d+/tcp/[1-9]\\d*/p2p/${peerId}$`))
        expect(d).not.toContain('0.0.0.0')
      }
    } finally {
      await service.destroy()
    }
  })

  it('are the announce addresses when configured, /p2p/<peerId> appended', async () => {
    const service = await startService({
      env: { PINERY_ANNOUNCE: '/dns4/pin.example.com/tcp/4101,/ip4/203.0.113.7/tcp/4101' }
    })
    try {
      const { peerId } = service.pinery.node
      const res = await service.client().pinsPost({ pin: { cid: 'bafkqaaa' } })
      expect(res.delegates).toEqual([
        `/dns4/pin.example.com/tcp/4101/p2p/${peerId}`,
        `/ip4/203.0.113.7/tcp/4101/p2p/${peerId}`
      ])
    } finally {
      await service.destroy()
    }
  })

  it('refuse an announce address naming another peer', async () => {
    const other = '12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk'
    await expect(startService({ env: { PINERY_ANNOUNCE: `/ip4/203.0.113.7/tcp/4101/p2p/${other}` } }))
      .rejects.toThrow(/names another peer/)
  })
})
