/**
 * `pinery verify` as an operator runs it (dist/cli.js on a stopped service's data dir): three uploaded
 * DAGs and one pinned from an origin peer check whole; then one block file of one DAG is overwritten and
 * another DAG's root file removed, and the check names exactly those two DAGs, with every request that
 * reports them pinned, and exits 1. `--repair` sends a damaged DAG's requests back to the queue, and the
 * service's next start fetches it again from its origin (or fails the request, and unpins the DAG).
 */
import { randomBytes } from 'node:crypto'
import { readFile, rm, mkdtemp, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { CLI, run, serverEnv, startServerProcess } from './fixtures/process.js'
import type { VerifyReport } from '../src/pins/verify.js'

const TOKEN = 'pinery_verify-test-admin'
let dataDir: string
const uploads: Array<{ requestid: string, cid: string }> = []
let second: string
let origin: Origin
let fetched: { requestid: string, cid: CID }
const headers = { authorization: `Bearer ${TOKEN}` }

/** The status of `requestid` once it is no longer queued or pinning, or after 20 s. */
async function settled (url: string, requestid: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const { status } = await (await fetch(`${url}/pins/${requestid}`, { headers })).json() as { status: string }
    if (status === 'pinned' || status === 'failed') return status
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return 'unsettled'
}

/** Where blockstore-fs keeps a block: the multihash in base32upper, sharded by its last two letters. */
function blockFile (cid: CID): string {
  const name = base32upper.encode(cid.multihash.bytes)
  return join(dataDir, 'blocks', name.slice(-2), `${name}.data`)
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pinery-verify-'))
  origin = await startOrigin()
  const service = await startServerProcess(serverEnv(dataDir, TOKEN))
  try {
    for (const seed of [1, 2, 3]) {
      const bytes = randomBytes(1_500_000)
      const res = await fetch(`${service.url}/content?name=file-${seed}`, { method: 'POST', headers, body: bytes })
      const status = await res.json() as { requestid: string, status: string, pin: { cid: string } }
      expect(status.status).toBe('pinned')
      uploads.push({ requestid: status.requestid, cid: status.pin.cid })
    }
    // A second request for the first DAG: both report it pinned.
    const res = await fetch(`${service.url}/pins`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: uploads[0]?.cid, name: 'again' })
    })
    second = (await res.json() as { requestid: string }).requestid
    const cid = await origin.addFile(randomBytes(1_500_000))
    const pin = await fetch(`${service.url}/pins`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: cid.toString(), name: 'from-origin', origins: origin.addrs })
    })
    fetched = { cid, requestid: (await pin.json() as { requestid: string }).requestid }
    expect(await settled(service.url, fetched.requestid)).toBe('pinned')
    const verify = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect(verify.code).toBe(1)
    expect(verify.stderr).toMatch(/in use by another process/)
  } finally {
    await service.stop()
  }
})

afterAll(async () => {
  await origin?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('pinery verify', () => {
  it('passes a whole data dir, then names the DAGs whose blocks went missing or changed', async () => {
    const whole = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect(whole.stdout).toMatch(/^checked 4 pinned DAGs, 28 blocks \(5\.72 MiB read\): every block is present/)
    expect(whole.code).toBe(0)

    const [a, b] = uploads.map(u => CID.parse(u.cid))
    const leaf = dagPb.decode(await readFile(blockFile(a as CID))).Links[0]?.Hash as CID
    const original = await readFile(blockFile(leaf))
    await writeFile(blockFile(leaf), Buffer.from(original).reverse())
    await unlink(blockFile(b as CID))

    const broken = await run(CLI, ['--json', 'verify'], { PINERY_DATA_DIR: dataDir })
    expect(broken.code).toBe(1)
    const report = JSON.parse(broken.stdout) as VerifyReport
    expect(report).toMatchObject({ dags: 4, blocks: 28 })
    const byRoot = new Map(report.damaged.map(d => [d.root, d]))
    expect(byRoot.size).toBe(2)
    expect(byRoot.get(uploads[0]?.cid as string)).toMatchObject({ blocks: 7, missing: 0, damaged: 1 })
    expect(byRoot.get(uploads[0]?.cid as string)?.requests.map(r => r.requestid).sort())
      .toEqual([uploads[0]?.requestid, second].sort())
    expect(byRoot.get(uploads[1]?.cid as string)).toMatchObject({
      blocks: 7, missing: 1, damaged: 0,
      requests: [{ requestid: uploads[1]?.requestid, status: 'pinned', name: 'file-2' }]
    })

    const text = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect(text.code).toBe(1)
    expect(text.stdout).toContain(`${uploads[1]?.cid}: 1 missing of 7 blocks\n  request ${uploads[1]?.requestid}`)
    expect(text.stdout).toContain(`${uploads[0]?.cid}: 1 damaged of 7 blocks`)
    expect(text.stdout).toContain(': 2 DAGs are not whole\n')

    await writeFile(blockFile(leaf), original)
    const refused = await run(CLI, ['--url', 'http://127.0.0.1:1', 'verify'], { PINERY_DATA_DIR: dataDir })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/verify works offline/)
  })
  it('--repair sends the requests of a damaged DAG back to the queue; the next start fetches it again', async () => {
    // Left from the test above: the second upload's root is gone (no origin has it).
    const leaves = dagPb.decode(await readFile(blockFile(fetched.cid))).Links.map(l => l.Hash)
    await unlink(blockFile(leaves[1] as CID))
    await writeFile(blockFile(leaves[2] as CID), 'not this block')
    const repair = await run(CLI, ['verify', '--repair'], { PINERY_DATA_DIR: dataDir })
    expect(repair.code).toBe(1)
    expect(repair.stdout).toContain(`${fetched.cid.toString()}: 1 missing, 1 damaged of 7 blocks`)
    expect(repair.stdout).toContain('Sent 2 pinned requests back to the queue')
    // The DAGs stay pinned until their requests settle again (their blocks below a missing node are kept);
    // a second run finds nothing left to send back.
    const again = await run(CLI, ['verify', '--repair'], { PINERY_DATA_DIR: dataDir })
    expect(again.stdout).toMatch(/^checked 4 pinned DAGs, /)
    expect(again.stdout).toContain('Sent 0 pinned requests back to the queue')

    const service = await startServerProcess({ ...serverEnv(dataDir, TOKEN), PINERY_STALL_TIMEOUT_MS: '3000' })
    try {
      expect(await settled(service.url, fetched.requestid)).toBe('pinned')
      // No origin has the second upload's root: it fails, and its DAG is unpinned by its stored block list.
      expect(await settled(service.url, uploads[1]?.requestid as string)).toBe('failed')
    } finally {
      await service.stop()
    }
    const after = await run(CLI, ['verify'], { PINERY_DATA_DIR: dataDir })
    expect(after.stdout).toMatch(/^checked 3 pinned DAGs, 21 blocks \(4\.29 MiB read\): every block is present/)
    expect(after.code).toBe(0)
  })
})
