/**
 * A newcomer's first pin starts at the next free slot when every slot is full: one owner's backlog and
 * another owner's running pins (or a second backlog) hold them all. Counted with real pins that nobody can
 * provide (each holds its slot until deleted), on a real service: which owner each freed slot goes to.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { addPin, listPins, missingCid } from '../fixtures/pins-api.js'

interface Pending { requestid: string, details: string }

/** Pins of CIDs nobody has on `svc`, and who runs what (a pending request with no queue position runs). */
function pinsOf (svc: TestService): {
  pin(user: string): Promise<Pending>
  running(user: string): Promise<string[]>
  remove(user: string, requestid: string): Promise<void>
  /** Waits until `users` run `n` pins between them: the freed slot was taken. */
  refilled(users: string[], n: number): Promise<void>
} {
  const running = async (user: string): Promise<string[]> => {
    const page = await listPins(svc, user, { status: 'queued,pinning', limit: '1000' })
    return page.results.filter(r => !/queue position/.test(r.info?.status_details ?? '')).map(r => r.requestid)
  }
  return {
    async pin (user) {
      const s = await addPin(svc, user, { cid: (await missingCid()).toString() })
      return { requestid: s.requestid, details: s.info?.status_details ?? '' }
    },
    running,
    async refilled (users, n) {
      await waitFor(async () => {
        let sum = 0
        for (const user of users) sum += (await running(user)).length
        return sum === n ? true : undefined
      }, 5000, 'the freed slot to be taken')
    },
    async remove (user, requestid) {
      expect((await svc.request(`/pins/${requestid}`, { method: 'DELETE', user })).status).toBe(202)
    }
  }
}

describe("a newcomer's first pin", () => {
  let service: TestService | undefined
  afterEach(async () => { await service?.destroy(); service = undefined })

  const env = { PINERY_PIN_CONCURRENCY: '4', PINERY_STALL_TIMEOUT_MS: '120000' }

  it("takes the next free slot when a backlog and another owner's running pins hold every slot", async () => {
    service = await startService({ users: ['ci', 'bob', 'carol'], env })
    const p = pinsOf(service)
    // bob's three pins run (nothing of his queued); the CI job's backlog takes the fourth slot.
    for (let i = 0; i < 3; i++) await p.pin('bob')
    for (let i = 0; i < 20; i++) await p.pin('ci')
    expect(await p.running('bob')).toHaveLength(3)
    expect(await p.running('ci')).toHaveLength(1)
    // carol pins one thing: every slot is held, so it waits, first in line.
    const mine = await p.pin('carol')
    expect(mine.details).toBe('queue position 1 of 20')
    // The CI job's running pin goes: its slot is carol's (old code: the CI job's next pin took it, carol was
    // told position 2 and waited for another slot to free).
    const [ciRunning] = await p.running('ci')
    await p.remove('ci', ciRunning as string)
    await p.refilled(['ci', 'carol'], 1)
    expect(await p.running('carol')).toEqual([mine.requestid])
    expect(await p.running('ci')).toHaveLength(0)
  })

  it('takes the next free slot when two backlogs hold every slot', async () => {
    service = await startService({ users: ['ci', 'nightly', 'carol'], env })
    const p = pinsOf(service)
    for (let i = 0; i < 20; i++) await p.pin('ci')
    for (let i = 0; i < 20; i++) await p.pin('nightly')
    // ci took three slots while alone, nightly the fourth.
    expect(await p.running('ci')).toHaveLength(3)
    expect(await p.running('nightly')).toHaveLength(1)
    const mine = await p.pin('carol')
    expect(mine.details).toBe('queue position 1 of 37')
    // One of ci's slots frees: carol's (old code: nightly's, holding fewer than ci; carol waited a turn more).
    const [ciRunning] = await p.running('ci')
    await p.remove('ci', ciRunning as string)
    await p.refilled(['nightly', 'carol'], 2)
    expect(await p.running('carol')).toEqual([mine.requestid])
    expect(await p.running('nightly')).toHaveLength(1)
  })
})
