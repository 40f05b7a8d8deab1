/**
 * What a person reads while a pin cannot get its blocks: each origin's dial outcome in the request's
 * `status_details` while it waits and in its failure reason (first-hour walk, round ten: a refused or dead
 * origin was never mentioned), and a status whose details agree with it. A real Pinery, real origins over TCP
 * on 127.0.0.1, a closed port.
 */
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { fileCidOf, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

interface Status { requestid: string, status: string, info?: { status_details?: string } }

/** A port nothing listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('a pin whose origins cannot be reached', () => {
  let svc: TestService | undefined
  const origins: Origin[] = []
  afterEach(async () => {
    await svc?.destroy()
    for (const o of origins.splice(0)) await o.stop()
    svc = undefined
  })

  async function pin (body: unknown): Promise<string> {
    const res = await svc!.call('POST', '/pins', 'alice', body)
    expect(res.status).toBe(202)
    return (await res.json() as Status).requestid
  }
  const get = async (id: string): Promise<Status> =>
    await (await svc!.call('GET', `/pins/${id}`, 'alice')).json() as Status
  async function detailsMatching (id: string, re: RegExp): Promise<string> {
    return await waitFor(async () => {
      const d = (await get(id)).info?.status_details ?? ''
      return re.test(d) ? d : undefined
    }, 20_000, `status_details of ${id} to match ${re}`)
  }
  const failed = async (id: string): Promise<string> => await waitFor(async () => {
    const s = await get(id)
    return s.status === 'failed' ? s.info?.status_details : undefined
  }, 30_000, `${id} to fail`)

  it('says an origin the dial policy refuses was not dialed, and why, while waiting and when failing', async () => {
    const origin = await startOrigin()
    origins.push(origin)
    const { cid } = await origin.addRandomFile(1)
    // The defaults: loopback is not dialed.
    svc = await startService({ users: ['alice'], env: { PINERY_DIAL_ALLOW: '', PINERY_STALL_TIMEOUT_MS: '4000' } })
    const addr = origin.addrs[0] as string
    const id = await pin({ cid: cid.toString(), origins: [addr] })
    const shown = addr.replace(/\/p2p\/(\w{8})\w+(\w{4})$/, '/p2p/$1…$2')
    // Old code: "fetched 0 blocks, 0 bytes", then "no progress for 4000 ms: no connected peer provided …".
    const waiting = await detailsMatching(id, /^looking.*not dialed/)
    expect(waiting).toBe('looking for a peer that has it; ' +
      `origin ${shown}: not dialed: loopback address (set PINERY_DIAL_ALLOW to allow it)`)
    const reason = await failed(id)
    expect(reason).toBe('no progress for 4 s: no connected peer provided the next block; ' +
      `origin ${shown}: not dialed: loopback address (set PINERY_DIAL_ALLOW to allow it)`)
  })

  it('says where nothing listens, where another peer answers and where no IPFS peer does', async () => {
    const origin = await startOrigin()
    const other = await startOrigin()
    origins.push(origin, other)
    // A web server where the person thought their node's swarm port was.
    const web = createServer(socket => {
      socket.on('error', () => {})
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')
    }).listen(0, '127.0.0.1')
    await new Promise(resolve => web.once('listening', resolve))
    const http = `/ip4/127.0.0.1/tcp/${(web.address() as { port: number }).port}/p2p/${origin.node.peerId}`
    svc = await startService({ users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '8000' } })
    const cid = (await fileCidOf(randomBytes(64))).toString()
    const dead = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${other.node.peerId}`
    const wrong = (origin.addrs[0] as string).replace(origin.node.peerId, other.node.peerId)
    const id = await pin({ cid, origins: [dead, wrong, http] })
    // Old code: "fetched 0 blocks, 0 bytes" throughout.
    const waiting = await detailsMatching(id, /^looking.*connection refused.*another peer answered.*no IPFS peer/)
    expect(waiting)
      .toMatch(/^looking for a peer that has it; origin \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW…\w{4}: /)
    expect(waiting).toContain(': connection refused (nothing listens on that port); origin ')
    expect(waiting).toContain(': another peer answered (check the peer ID after /p2p/)')
    expect(waiting).toContain(': what answers there is no IPFS peer (check the port)')
    expect(waiting.length).toBeLessThan(400)
    expect(await failed(id)).toMatch(/^no progress for 8 s: .*; origin .*: connection refused .*another peer answered/)
    web.close()
  })

  it('still pins when every origin fails but a connected peer has the blocks', async () => {
    const origin = await startOrigin()
    origins.push(origin)
    const { cid } = await origin.addRandomFile(2)
    svc = await startService({ users: ['alice'], env: { PINERY_STALL_TIMEOUT_MS: '8000' } })
    const dead = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${origin.node.peerId}`
    await origin.dial(svc.pinery.node.delegates().filter(d => d.includes('/127.0.0.1/')))
    const id = await pin({ cid: cid.toString(), origins: [dead] })
    const settled = await waitFor(async () => {
      const s = await get(id)
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 30_000, `${id} to settle`)
    expect(settled.status).toBe('pinned')
  })

  it('a request still queued reads as starting, not as a fetch its status does not show', async () => {
    const origin = await startOrigin()
    origins.push(origin)
    const { cid } = await origin.addRandomFile(24)
    svc = await startService({ users: ['alice'] })
    await origin.dial(svc.pinery.node.delegates().filter(d => d.includes('/127.0.0.1/')))
    const id = await pin({ cid: cid.toString(), origins: origin.addrs })
    const seen: string[] = []
    for (let s = await get(id); s.status === 'queued' || s.status === 'pinning'; s = await get(id)) {
      seen.push(`${s.status}: ${s.info?.status_details ?? ''}`)
    }
    const queued = seen.filter(s => s.startsWith('queued: '))
    // Old code: "queued: fetched 0 blocks, 0 bytes" (a fetch may start before the record says pinning).
    const notes = '(; origin .*: (dialing|connected, no block from it yet))?'
    for (const s of queued) {
      expect(s).toMatch(new RegExp(`^queued: (queued|queue position \\d+ of \\d+|starting to fetch)${notes}$`))
    }
    for (const s of seen.filter(s => s.startsWith('pinning: '))) {
      // Between the fetch's end and the settled record: "saving" (was "connecting to providers").
      const main = '(looking for a peer that has it|(fetched|saving) \\d+ blocks?, \\d+ bytes?|saving)'
      expect(s).toMatch(new RegExp(`^pinning: ${main}${notes}$`))
    }
  })
})
