/**
 * kubo as the client: `ipfs pin remote …` of a real kubo daemon against a real Pinery. Content
 * exists only in kubo, so a pin that ends `pinned` was fetched from kubo over bitswap.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TextMatchingStrategy } from '@ipfs-shipyard/pinning-service-client'
import { startKubo, type Kubo } from '../fixtures/kubo.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'

interface Listed { Status: string, Cid: string, Name: string }
interface PinStatus { requestid: string, status: string, pin: { cid: string, name?: string } }

describe('kubo as the client of Pinery', () => {
  let service: TestService
  let kubo: Kubo
  let dir: string
  let files = 0

  /** Adds random bytes to kubo (CIDv1, kubo's defaults otherwise); returns the CID. */
  const add = async (size = 1024): Promise<string> => {
    const file = join(dir, `f${files++}`)
    await writeFile(file, randomBytes(size))
    return await kubo.ipfs(['add', '-Q', '--cid-version=1', file])
  }
  const ls = async (...args: string[]): Promise<Listed[]> => {
    const out = await kubo.ipfs(['pin', 'remote', 'ls', '--service=pinery', '--enc=json', ...args])
    return out.split('\n').filter(Boolean).map(l => JSON.parse(l) as Listed)
  }
  const post = async (path: string, user: string, body: unknown): Promise<Response> =>
    await service.request(path, {
      method: 'POST', user, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })
  const pinsOf = async (query: string, user = 'alice'): Promise<{ count: number, results: PinStatus[] }> =>
    await (await service.request(`/pins?${query}`, { user })).json() as { count: number, results: PinStatus[] }
  const newToken = async (user: string, scope: string): Promise<{ id: string, secret: string }> =>
    await (await post('/tokens', user, { label: scope, scope })).json() as { id: string, secret: string }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-kubo-files-'))
    // Two pins fetched at once and a short stall timeout: pins of absent CIDs show every status quickly.
    service = await startService({
      users: ['alice', 'carol'],
      quotas: { carol: { pins: 1 } },
      env: { PINERY_PIN_CONCURRENCY: '3', PINERY_STALL_TIMEOUT_MS: '4000' }
    })
    kubo = await startKubo()
    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'pinery', service.url, service.tokens.alice as string])
  })

  afterAll(async () => {
    await kubo?.stop()
    await service?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('pin remote add waits for pinned, fetching the DAG from kubo through the delegates', async () => {
    const cid = await add(600 * 1024) // three 256 KiB chunks and a root
    const out = await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', '--name=fg', cid])
    expect(out).toContain(`CID:    ${cid}`)
    expect(out).toMatch(/Status: pinned/)
    const { results } = await pinsOf(`cid=${cid}`)
    expect(results.map(r => r.status)).toEqual(['pinned'])
    expect(results[0]?.pin.name).toBe('fg')
    // Pinery dialed kubo (its origins) or kubo dialed Pinery (its delegates): they are connected.
    const peers = await kubo.ipfs(['swarm', 'peers'])
    expect(peers).toContain(service.pinery.node.libp2p.peerId.toString())
    const read = await service.request(`/ipfs/${cid}`, { user: 'alice' })
    expect(read.status).toBe(200)
    expect((await read.arrayBuffer()).byteLength).toBe(600 * 1024)
  })

  it('pin remote add --background returns before pinned; the pin completes', async () => {
    const cid = await add(300 * 1024)
    const out = await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', '--name=bg', '--background', cid])
    expect(out).toMatch(/Status: (queued|pinning|pinned)/)
    const found = async (): Promise<Listed | undefined> => (await ls(`--cid=${cid}`)).find(p => p.Status === 'pinned')
    const pinned = await waitFor(found, 20_000, 'the pin')
    expect(pinned).toMatchObject({ Cid: cid, Name: 'bg' })
  })

  it('pin remote ls lists each status, and filters by --cid and --name', async () => {
    // Three absent CIDs: two pinning at once (of three slots one user holds two), one queued behind them;
    // all fail on stall.
    const absent = [await add(10), await add(11), await add(12)]
    await kubo.ipfs(['pin', 'rm', ...absent]) // kubo keeps no copy; with nobody holding them they stall
    await kubo.ipfs(['repo', 'gc'])
    for (const cid of absent) {
      expect((await post('/pins', 'alice', { cid, name: 'absent' })).status).toBe(202)
    }
    const pending = await ls('--status=queued,pinning', '--name=absent')
    expect(pending.map(p => p.Cid).sort()).toEqual([...absent].sort())
    const byStatus = async (s: string): Promise<string[]> =>
      (await ls(`--status=${s}`, '--name=absent')).map(p => p.Cid)
    const exactly = (s: string, n: number) => async (): Promise<string[] | undefined> => {
      const cids = await byStatus(s)
      return cids.length === n ? cids : undefined
    }
    const pinning = await waitFor(exactly('pinning', 2), 3000, 'two pinning')
    const queued = await byStatus('queued')
    expect(queued).toHaveLength(1)
    expect(pinning).toHaveLength(2)
    expect([...queued, ...pinning].sort()).toEqual([...absent].sort())

    const failed = await waitFor(exactly('failed', 3), 20_000, 'stalled pins to fail')
    expect(failed.sort()).toEqual([...absent].sort())
    expect(await byStatus('pinned')).toEqual([])
    // Default status is pinned; --name is exact; --cid takes several.
    expect((await ls()).every(p => p.Status === 'pinned')).toBe(true)
    expect((await ls('--name=fg')).map(p => p.Name)).toEqual(['fg'])
    expect(await ls('--name=f')).toEqual([])
    const two = await ls(`--cid=${absent[0] as string},${absent[1] as string}`, '--status=failed')
    expect(two.map(p => p.Cid).sort()).toEqual([absent[0], absent[1]].sort())
  })

  it('pin remote ls --name finds a name typed in the other Unicode form, and prints it as stored', async () => {
    // A name from a Mac's file system comes decomposed ("e" and U+0301); the same name typed is precomposed.
    const decomposed = 'cafe\u0301 menu'
    const precomposed = 'caf\u00e9 menu'
    const cid = await add()
    await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', `--name=${decomposed}`, cid])
    const other = await add()
    await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', `--name=${precomposed.toUpperCase()}`, other])
    // Old code: nothing found (the bytes differ).
    expect((await ls(`--name=${precomposed}`)).map(p => p.Name)).toEqual([decomposed])
    expect((await ls(`--name=${decomposed}`)).map(p => p.Name)).toEqual([decomposed])
    // The official JS client's case-insensitive and partial matches compare the same forms.
    const client = service.client('alice')
    const found = async (name: string, match: string): Promise<string[]> =>
      [...(await client.pinsGet({ name, match: match as TextMatchingStrategy })).results]
        .map(r => r.pin.name ?? '').sort()
    expect(await found('CAF\u00c9 MENU', 'iexact')).toEqual([precomposed.toUpperCase(), decomposed].sort())
    expect(await found('caf\u00e9', 'partial')).toEqual([decomposed])
    // Not rewritten: the API gives the name back as it was given.
    const given = await pinsOf(`name=${encodeURIComponent(decomposed)}`)
    expect(given.results.map(r => r.pin.name)).toEqual([decomposed])
  })

  it('pin remote ls pages past one page of results', async () => {
    const cids: string[] = []
    for (let i = 0; i < 13; i++) cids.push(await add(100 + i))
    for (const cid of cids) {
      await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', '--name=page', '--background', cid])
    }
    await waitFor(async () => (await pinsOf('name=page&status=pinned')).count === 13 || undefined, 30_000, '13 pins')
    const listed = await ls('--name=page')
    expect(listed.map(p => p.Cid).sort()).toEqual([...cids].sort())
  })

  it('pin remote rm removes one pin, and several only with --force', async () => {
    const one = await add(2000)
    await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', '--name=rm-one', one])
    await kubo.ipfs(['pin', 'remote', 'rm', '--service=pinery', `--cid=${one}`])
    expect((await pinsOf(`cid=${one}&status=queued,pinning,pinned,failed`)).count).toBe(0)

    const dup = await add(3000)
    for (let i = 0; i < 3; i++) await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', '--name=rm-many', dup])
    expect((await pinsOf('name=rm-many')).count).toBe(3)
    const refused = await kubo.run(['pin', 'remote', 'rm', '--service=pinery', '--name=rm-many'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/--force/)
    expect((await pinsOf('name=rm-many')).count).toBe(3)
    await kubo.ipfs(['pin', 'remote', 'rm', '--service=pinery', '--name=rm-many', '--force'])
    expect((await pinsOf('name=rm-many&status=queued,pinning,pinned,failed')).count).toBe(0)
  })

  it('pin remote service ls --stat reports the counts Pinery has', async () => {
    const out = JSON.parse(await kubo.ipfs(['pin', 'remote', 'service', 'ls', '--stat', '--enc=json'])) as {
      RemoteServices: Array<{ Service: string, Stat: { Status: string, PinCount: Record<string, number> } }>
    }
    const svc = out.RemoteServices.find(s => s.Service === 'pinery')
    expect(svc?.Stat.Status).toBe('valid')
    const count = async (s: string): Promise<number> => (await pinsOf(`status=${s}`)).count
    expect(svc?.Stat.PinCount).toEqual({
      Queued: await count('queued'),
      Pinning: await count('pinning'),
      Pinned: await count('pinned'),
      Failed: await count('failed')
    })
    expect(svc?.Stat.PinCount.Pinned).toBeGreaterThanOrEqual(15)
    expect(svc?.Stat.PinCount.Failed).toBe(3)
  })

  it("fails with Pinery's reason beyond a token's scope, over quota and with a revoked token", async () => {
    const cid = await add(500)
    await kubo.ipfs(['pin', 'remote', 'add', '--service=pinery', '--name=keep', cid])
    const addOnly = await newToken('alice', 'pins:add')
    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'addonly', service.url, addOnly.secret])
    const ls = await kubo.run(['pin', 'remote', 'ls', '--service=addonly'])
    expect(ls.code).not.toBe(0)
    expect(ls.stderr).toContain('FORBIDDEN')
    expect(ls.stderr).toContain('pins:read')
    // A CI job's pins:add token pins with --background (README); without it kubo then polls the status, which
    // needs pins:read, and fails although the pin was made.
    const ci = await add(502)
    await kubo.ipfs(['pin', 'remote', 'add', '--service=addonly', '--name=ci-bg', '--background', ci])
    const polled = await kubo.run(['pin', 'remote', 'add', '--service=addonly', '--name=ci-fg', ci])
    expect(polled.code).not.toBe(0)
    expect(polled.stderr).toContain('pins:read')
    expect((await pinsOf('name=ci-fg&status=queued,pinning,pinned')).count).toBe(1)

    const readOnly = await newToken('alice', 'pins:read')
    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'readonly', service.url, readOnly.secret])
    const refusedRm = await kubo.run(['pin', 'remote', 'rm', '--service=readonly', '--name=keep'])
    expect(refusedRm.code).not.toBe(0)
    expect(refusedRm.stderr).toContain('FORBIDDEN')
    expect(refusedRm.stderr).toContain('pins:write')
    expect((await pinsOf('name=keep')).count).toBe(1)

    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'carol', service.url, service.tokens.carol as string])
    await kubo.ipfs(['pin', 'remote', 'add', '--service=carol', cid])
    const over = await kubo.run(['pin', 'remote', 'add', '--service=carol', await add(501)])
    expect(over.code).not.toBe(0)
    expect(over.stderr).toContain('INSUFFICIENT_FUNDS')
    expect(over.stderr).toMatch(/pin/)

    const doomed = await newToken('alice', 'pins:write')
    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'doomed', service.url, doomed.secret])
    await kubo.ipfs(['pin', 'remote', 'ls', '--service=doomed'])
    expect((await service.request(`/tokens/${doomed.id}`, { method: 'DELETE', user: 'alice' })).status).toBe(204)
    const revoked = await kubo.run(['pin', 'remote', 'add', '--service=doomed', cid])
    expect(revoked.code).not.toBe(0)
    expect(revoked.stderr).toContain('UNAUTHORIZED')
  })

  it("kubo's MFS pinning policy replaces the named pin on each change instead of piling pins up", async () => {
    const mfs = await startKubo({
      env: { MFS_PIN_POLL_INTERVAL: '250ms' },
      config: {
        'Pinning.RemoteServices.pinery': {
          API: { Endpoint: service.url, Key: service.tokens.alice },
          Policies: { MFS: { Enable: true, PinName: 'mfs-root', RepinInterval: '500ms' } }
        }
      }
    })
    try {
      const all = 'name=mfs-root&status=queued,pinning,pinned,failed'
      const roots: string[] = []
      for (let change = 0; change < 3; change++) {
        const file = join(dir, `mfs${change}`)
        await writeFile(file, randomBytes(1000 + change))
        const cid = await mfs.ipfs(['add', '-Q', '--cid-version=1', file])
        await mfs.ipfs(['files', 'cp', `/ipfs/${cid}`, `/file-${change}`])
        const root = await mfs.ipfs(['files', 'stat', '--hash', '/'])
        roots.push(root)
        const pinned = await waitFor(async () => {
          const { results } = await pinsOf(all)
          return results.some(r => r.pin.cid === root && r.status === 'pinned') ? results : undefined
        }, 20_000, `MFS root ${change} pinned`)
        expect(pinned).toHaveLength(1)
      }
      expect(new Set(roots).size).toBe(3)
      // The last root holds every file: Pinery fetched the whole MFS tree from kubo.
      const listing = await service.request(`/ipfs/${roots[2] as string}`, { user: 'alice' })
      expect(listing.status).toBe(200)
      expect(JSON.stringify(await listing.json())).toContain('file-2')
    } finally {
      await mfs.stop()
    }
  })
})
