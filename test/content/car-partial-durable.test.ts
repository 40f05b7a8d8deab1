/**
 * A CAR upload that holds only part of a DAG is answered `queued` and the
 * worker fetches the rest; the blocks the CAR brought may exist nowhere else.
 * They are made durable before the answer, as those of a complete DAG are:
 * they were flushed only once the fetch finished, so a power cut meanwhile
 * lost uploaded blocks the client had been told were accepted.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { NextToLast } from 'blockstore-fs/sharding'
import { afterEach, describe, expect, it } from 'vitest'
import { blocksOf, carOf, fileDag } from '../fixtures/content.js'
import { powerCutCases } from '../fixtures/power-cut.js'
import { serverEnv } from '../fixtures/process.js'

const TOKEN = 'pinery_car-partial-durable-admin'

describe('the blocks of a partial CAR upload', () => {
  const cases = powerCutCases('pinery-car-partial-')
  afterEach(cases.cleanup)

  it('are fsynced before the upload is answered', async () => {
    const { dataDir, power, start } = await cases.open()
    const server = await start({
      ...serverEnv(dataDir, TOKEN), PINERY_STALL_TIMEOUT_MS: '600000', ...power.env
    })
    // Root and two leaves of four: the other two exist nowhere, so the fetch waits.
    const all = await blocksOf(await fileDag(randomBytes(4 * 256 * 1024)))
    const sent = all.slice(0, 3)
    const res = await fetch(`${server.url}/content`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.ipld.car' },
      body: await carOf([sent[0]!.cid], sent)
    })
    expect(res.status).toBe(202)
    expect((await res.json() as { status: string }).status).not.toBe('pinned')

    const log = await readFile(power.env.PINERY_SYNC_LOG as string, 'utf8')
    const synced = log.split('\n').filter(l => l.startsWith('S\t')).map(l => l.split('\t')[2] as string)
    const sharding = new NextToLast()
    const unsynced = sent.filter(({ cid }) => {
      const { dir, file } = sharding.encode(cid)
      return !synced.some(path => path.endsWith(`/${dir}/${file}`))
    })
    expect(unsynced.map(b => b.cid.toString())).toEqual([])
  }, 60_000)
})
