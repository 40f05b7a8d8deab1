// bench:events receiver on node:http (the one used until round four; `--receiver node`):
// `node hook-receiver-node.mjs`; answers every POST 200, keeps the distinct event ids it got and
// each first delivery's lag (now - the event's time). It does not check signatures.
// GET /_stats → {count, deliveries, p50, p99, max, bad: 0}; GET /_count → {count, bad: 0};
// POST /_secret is accepted and ignored.
import { createServer } from 'node:http'

const seen = new Set()
const lags = []
let connections = 0
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/_count') { res.end(JSON.stringify({ count: seen.size, bad: 0 })); return }
  if (req.method === 'GET') {
    const sorted = [...lags].sort((a, b) => a - b)
    const q = (p) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
    res.end(JSON.stringify({
      count: seen.size, deliveries: lags.length, p50: q(0.5), p99: q(0.99), max: sorted.at(-1) ?? 0, bad: 0, connections
    }))
    return
  }
  const chunks = []
  req.on('data', c => chunks.push(c))
  req.on('end', () => {
    if (req.url === '/_secret') { res.end('{}'); return }
    const id = req.headers['pinery-event-id']
    if (!seen.has(id)) {
      seen.add(id)
      lags.push(Date.now() - Date.parse(JSON.parse(Buffer.concat(chunks).toString()).time))
    }
    res.end('ok')
  })
})
server.on('connection', () => { connections++ })
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
