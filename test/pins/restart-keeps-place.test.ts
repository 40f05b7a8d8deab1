/**
 * Restart (the web app's, or any replace of a request still waiting) keeps the request's place in a real queue:
 * a real Pinery with one worker slot, held by a pin no peer has (old code: the replacement went to the back of
 * its owner's queue, behind every pin made after it; a running one restarted waited behind them all too).
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileCidOf } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

interface Status { requestid: string, status: string, pin: Record<string, unknown>, info?: { status_details?: string } }

let svc: TestService
beforeAll(async () => {
  svc = await startService({ users: ['alice'], env: { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '60000' } })
})
afterAll(async () => { await svc.destroy() })

async function pinMissing (name: string): Promise<Status> {
  const cid = (await fileCidOf(randomBytes(64))).toString()
  return await (await svc.call('POST', '/pins', 'alice', { cid, name })).json() as Status
}

async function details (requestid: string): Promise<string> {
  const s = await (await svc.call('GET', `/pins/${requestid}`, 'alice')).json() as Status
  return s.info?.status_details ?? ''
}

/** The page's Restart: the pin sent back as it is. */
async function restart (requestid: string): Promise<Status> {
  const s = await (await svc.call('GET', `/pins/${requestid}`, 'alice')).json() as Status
  const res = await svc.call('POST', `/pins/${requestid}`, 'alice', s.pin)
  expect(res.status).toBe(202)
  return await res.json() as Status
}

describe('a restarted pin', () => {
  it('keeps its place in the queue while queued, and goes first again while running', async () => {
    const running = await pinMissing('running')
    await waitFor(async () => /queue position/.test(await details(running.requestid)) ? undefined : true,
      10_000, 'the first pin to hold the slot')
    const queued = [await pinMissing('a'), await pinMissing('b'), await pinMissing('c')]
    expect(await details(queued[1]!.requestid)).toBe('queue position 2 of 3')

    const b = await restart(queued[1]!.requestid)
    expect(b.requestid).not.toBe(queued[1]!.requestid)
    expect(await details(b.requestid)).toBe('queue position 2 of 3')
    expect(await details(queued[2]!.requestid)).toBe('queue position 3 of 3')

    // The running one, restarted, takes the slot again before a, b and c.
    const again = await restart(running.requestid)
    await waitFor(async () => /queue position/.test(await details(again.requestid)) ? undefined : true,
      10_000, 'the restarted pin to hold the slot again')
    expect(await details(queued[0]!.requestid)).toBe('queue position 1 of 3')
    expect(await details(b.requestid)).toBe('queue position 2 of 3')
  })
})
