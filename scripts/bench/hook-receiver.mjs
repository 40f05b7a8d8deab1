// bench:events receiver: `node hook-receiver.mjs`. An HTTP/1.1 server on net (keep-alive,
// pipelined requests, content-length bodies; a chunked body is answered 411 and the connection
// closed) because the receivers share the bench's two cores with Pinery: node:http cost ~40 CPU-µs
// per POST here, this ~8 (bench:webhook-cost, 2026-11-30), and that difference is the receiver's,
// not Pinery's. It still checks every request: POST /_secret (body: the webhook's secret) first;
// then every POST's Pinery-Signature is verified (HMAC-SHA256 of "<t>.<body>", t within 300 s) and
// a bad or missing one answers 401 and is counted. Keeps the distinct event ids it got and each
// first delivery's lag (now - the event's `time`). GET /_stats → {count, deliveries, p50, p99, max, bad};
// GET /_count → {count, bad} (cheap, for polling).
import { createHmac } from 'node:crypto'
import { createServer } from 'node:net'

let secret
const seen = new Set()
const lags = []
let bad = 0
/** Reads from sockets (POSTs per read tells how well deliveries are pipelined). */
let reads = 0
let connections = 0
const TIME = Buffer.from('"time":"')

function stats () {
  const sorted = [...lags].sort((a, b) => a - b)
  const q = (p) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
  const max = sorted.at(-1) ?? 0
  const p50 = q(0.5)
  const p99 = q(0.99)
  return JSON.stringify({ count: seen.size, deliveries: lags.length, p50, p99, max, bad, reads, connections })
}

/** The answer to one request (status, body). */
function handle (method, path, headers, body) {
  if (method === 'GET' && path === '/_stats') return [200, stats()]
  if (method === 'GET' && path === '/_count') return [200, JSON.stringify({ count: seen.size, bad })]
  if (method === 'POST' && path === '/_secret') { secret = body.toString(); return [200, '{}'] }
  if (method !== 'POST') return [405, 'POST only']
  const sig = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers.get('pinery-signature') ?? '')
  const t = Number(sig?.[1])
  const ok = secret != null && sig != null && Math.abs(Date.now() / 1000 - t) <= 300 &&
    createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex') === sig[2]
  if (!ok) { bad++; return [401, 'bad signature'] }
  const id = headers.get('pinery-event-id')
  if (id == null) return [400, 'no Pinery-Event-Id']
  if (!seen.has(id)) {
    seen.add(id)
    const at = body.indexOf(TIME)
    lags.push(Date.now() - Date.parse(body.toString('latin1', at + TIME.length, at + TIME.length + 24)))
  }
  return [200, 'ok']
}

const server = createServer((socket) => {
  connections++
  let acc
  socket.on('error', () => {})
  socket.on('data', (chunk) => {
    reads++
    acc = acc == null ? chunk : Buffer.concat([acc, chunk])
    let out = ''
    let close = false
    for (;;) {
      const end = acc.indexOf('\r\n\r\n')
      if (end < 0) break
      const lines = acc.toString('latin1', 0, end).split('\r\n')
      const [method, path, version] = (lines[0] ?? '').split(' ')
      const headers = new Map()
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]
        const colon = line.indexOf(':')
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
      }
      if (headers.has('transfer-encoding') || !/^HTTP\/1\.[01]$/.test(version ?? '')) {
        out += 'HTTP/1.1 411 Length Required\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'
        close = true
        break
      }
      const length = Number(headers.get('content-length') ?? 0)
      if (acc.length < end + 4 + length) break
      const body = acc.subarray(end + 4, end + 4 + length)
      acc = acc.subarray(end + 4 + length)
      const [status, text] = handle(method, path, headers, body)
      close = headers.get('connection')?.toLowerCase() === 'close' || version === 'HTTP/1.0'
      out += `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Error'}\r\ncontent-type: text/plain\r\n` +
        `content-length: ${Buffer.byteLength(text)}\r\n${close ? 'connection: close\r\n' : ''}\r\n${text}`
      if (close) break
    }
    if (acc.length === 0) acc = undefined
    if (out !== '') socket.write(out)
    if (close) socket.end()
  })
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
process.on('SIGTERM', () => { process.exit(0) })
