/**
 * Stopping the service while clients keep keep-alive connections busy.
 */
import { describe, expect, it } from 'vitest'
import { startService } from './fixtures/service.js'

describe('stop', () => {
  it('finishes within a few seconds while clients keep polling over keep-alive', async () => {
    const service = await startService()
    let polling = true
    const pollers = Array.from({ length: 8 }, async () => {
      while (polling) {
        try {
          await (await service.request('/pins')).text()
        } catch {
          await new Promise(resolve => setTimeout(resolve, 20))
        }
      }
    })
    await new Promise(resolve => setTimeout(resolve, 200))
    const started = Date.now()
    await service.stop()
    const took = Date.now() - started
    polling = false
    await Promise.all(pollers)
    await service.destroy()
    expect(took).toBeLessThan(5000)
  })
})
