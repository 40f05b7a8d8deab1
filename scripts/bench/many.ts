/**
 * bench:many — 10,000 single-block pins from one origin peer, POSTed as fast
 * as the API takes them (20 in flight); measures until every one is pinned.
 *
 *   npm run bench:many -- [--count 10000] [--in-flight 20]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServerProcess } from '../../test/fixtures/process.js'
import { MiB, manyBlock, peakRss, startPeer, table } from './lib.js'

const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, 'in-flight': { type: 'string', default: '20' } } })
const count = Number(values.count)
const inFlight = Number(values['in-flight'])
const TOKEN = 'pinery_bench-many-token'
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

const origin = await startPeer<{ addrs: string[] }>(['origin-many', '--count', String(count)])
const cids: string[] = []
for (let i = 0; i < count; i++) cids.push((await manyBlock(i)).cid.toString())
const dataDir = await mkdtemp(join(tmpdir(), 'pinery-bench-many-'))
const server = await startServerProcess({ PINERY_DATA_DIR: dataDir, PINERY_HTTP_PORT: '0', PINERY_LISTEN: '/ip4/127.0.0.1/tcp/0', PINERY_ADMIN_TOKEN: TOKEN, PINERY_LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PINERY_'))) as Record<string, string> })
try {
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) {
      const cid = cids[next++] as string
      const res = await fetch(`${server.url}/pins`, { method: 'POST', headers, body: JSON.stringify({ cid, origins: origin.value.addrs }) })
      if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`)
    }
  }))
  const posted = performance.now()
  const countOf = async (status: string): Promise<number> => ((await (await fetch(`${server.url}/pins?status=${status}&limit=1`, { headers })).json()) as { count: number }).count
  let pinned = 0
  for (;;) {
    pinned = await countOf('pinned')
    const failed = await countOf('failed')
    if (pinned + failed >= count) break
    if (performance.now() - started > 300_000) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const done = performance.now()
  const rss = await peakRss(server.child.pid as number)
  process.stdout.write(`\nbench:many — ${count} single-block pins from one origin, ${inFlight} POSTs in flight\n\n`)
  process.stdout.write(table(['POSTs accepted in', 'all settled in', 'pinned', 'pins/s', 'Pinery peak RSS MiB'], [[
    `${((posted - started) / 1000).toFixed(1)} s`, `${((done - started) / 1000).toFixed(1)} s`, `${pinned} / ${count}`, (pinned / ((done - started) / 1000)).toFixed(0), (rss / MiB).toFixed(0)
  ]]) + '\n')
} finally {
  await server.stop()
  origin.child.kill('SIGTERM')
  await rm(dataDir, { recursive: true, force: true })
}
