// bench:events receiver: `node hook-receiver.mjs`. An HTTP/1.1 server on net (keep-alive,
// pipelined requests, content-length bodies; a chunked body is answered 411 and the connection
// closed) because the receivers share the bench's two cores with Pinery: node:http cost ~40 CPU-µs
// per POST here, the net receiver of round four ~8 (bench:webhook-cost, 2026-11-30), and that
// difference is the receiver's, not Pinery's. Round eight made it leaner still (one string per
// request, the head; the signing key a KeyObject made once; ids kept as numbers; the usual answer
// one shared buffer, all of a read's answers in one write) — see RESULTS.md "Round eight: events".
//
// It still checks every request: POST /_secret (body: the webhook's secret) first; then every POST's
// Pinery-Signature is verified (HMAC-SHA256 of "<t>.<body>", t within 300 s) and a bad or missing one
// answers 401 and is counted (`bad`). Every event is counted once by its Pinery-Event-Id, and per pin
// request (the body's first "requestid") its first deliveries must come in id order: an event first
// seen after a later event of the same request is counted (`disorder`; Pinery promises order per
// request). Each first delivery's lag (now - the event's `time`) is kept.
// GET /_stats → {count, deliveries, p50, p99, max, bad, disorder, reads, connections};
// GET /_count → {count, bad, disorder} (cheap, for polling).
import { createHmac, createSecretKey } from 'node:crypto'
import { createServer } from 'node:net'

let key
const seen = new Set()
/** Per pin request: the highest event id delivered for it so far. */
const lastOfRequest = new Map()
const lags = []
let bad = 0
let disorder = 0
/** Reads from sockets (POSTs per read tells how well deliveries are pipelined). */
let reads = 0
let connections = 0
const END = Buffer.from('\r\n\r\n')
const TIME = Buffer.from('"time":"')
const REQUEST = Buffer.from('"requestid":"')
const OK = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
/** 128 answers "200 ok" back to back: a read's run of them is written as one slice of this. */
const OKS = Buffer.concat(Array.from({ length: 128 }, () => OK))

function stats () {
  const sorted = [...lags].sort((a, b) => a - b)
  const q = (p) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
  return JSON.stringify({
    count: seen.size, deliveries: lags.length, p50: q(0.5), p99: q(0.99), max: sorted.at(-1) ?? 0, bad, disorder,
    reads, connections
  })
}

/** The value of header `name` (lower case, as Pinery writes them) in `head`, or undefined. */
function header (head, name) {
  const at = head.indexOf(`\r\n${name}:`)
  if (at < 0) return undefined
  const from = at + name.length + 3
  const to = head.indexOf('\r\n', from)
  return head.slice(from, to < 0 ? head.length : to).trim()
}

/** Checks and counts one delivery; the status to answer. */
function hook (head, body, nowSeconds, now) {
  const sig = header(head, 'pinery-signature')
  // t=<digits>,v1=<64 hex>
  const comma = sig == null ? -1 : sig.indexOf(',v1=')
  const t = comma > 2 && sig.startsWith('t=') ? Number(sig.slice(2, comma)) : NaN
  const ok = key != null && comma > 2 && sig.length === comma + 68 && Math.abs(nowSeconds - t) <= 300 &&
    createHmac('sha256', key).update(`${sig.slice(2, comma)}.`).update(body).digest('hex') === sig.slice(comma + 4)
  if (!ok) { bad++; return 401 }
  const id = Number(header(head, 'pinery-event-id'))
  if (!Number.isSafeInteger(id)) return 400
  if (seen.has(id)) return 200
  seen.add(id)
  const at = body.indexOf(TIME)
  lags.push(now - Date.parse(body.toString('latin1', at + TIME.length, at + TIME.length + 24)))
  const r = body.indexOf(REQUEST)
  if (r >= 0) {
    const request = body.toString('latin1', r + REQUEST.length, body.indexOf(0x22, r + REQUEST.length))
    const last = lastOfRequest.get(request)
    if (last != null && last > id) disorder++
    else lastOfRequest.set(request, id)
  }
  return 200
}

/** Any other request: the bench's own (secret, stats, count). */
function control (line, body) {
  if (line.startsWith('GET /_stats ')) return [200, stats()]
  if (line.startsWith('GET /_count ')) return [200, JSON.stringify({ count: seen.size, bad, disorder })]
  if (line.startsWith('POST /_secret ')) { key = createSecretKey(Buffer.from(body)); return [200, '{}'] }
  return [405, 'POST only']
}

function answer (status, text, close) {
  return Buffer.from(`HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Error'}\r\ncontent-type: text/plain\r\n` +
    `content-length: ${Buffer.byteLength(text)}\r\n${close ? 'connection: close\r\n' : ''}\r\n${text}`)
}

const server = createServer((socket) => {
  connections++
  let acc
  socket.on('error', () => {})
  socket.on('data', (chunk) => {
    reads++
    const buf = acc == null ? chunk : Buffer.concat([acc, chunk])
    const now = Date.now()
    const nowSeconds = now / 1000
    const out = []
    let oks = 0
    let at = 0
    let close = false
    for (;;) {
      const end = buf.indexOf(END, at)
      if (end < 0) break
      const head = buf.toString('latin1', at, end)
      const eol = head.indexOf('\r\n')
      const line = eol < 0 ? head : head.slice(0, eol)
      const version = line.slice(line.lastIndexOf(' ') + 1)
      if ((version !== 'HTTP/1.1' && version !== 'HTTP/1.0') || head.includes('\r\ntransfer-encoding:') ||
        (!head.includes('\r\ncontent-length:') && line.startsWith('POST '))) {
        // Chunked (or header names not as Pinery writes them): not for this receiver.
        out.push(OKS.subarray(0, oks * OK.length), answer(411, '', true))
        oks = 0
        close = true
        break
      }
      const length = Number(header(head, 'content-length') ?? 0)
      if (buf.length < end + 4 + length) break
      const body = buf.subarray(end + 4, end + 4 + length)
      at = end + 4 + length
      close = version === 'HTTP/1.0' || header(head, 'connection')?.toLowerCase() === 'close'
      if (line.startsWith('POST /hook') && !close) {
        const status = hook(head, body, nowSeconds, now)
        if (status === 200) {
          if (++oks === 128) { out.push(OKS); oks = 0 }
          continue
        }
        out.push(OKS.subarray(0, oks * OK.length), answer(status, status === 401 ? 'bad signature' : 'no id', false))
      } else {
        const [status, text] = line.startsWith('POST /hook')
          ? [hook(head, body, nowSeconds, now), '']
          : control(line, body)
        out.push(OKS.subarray(0, oks * OK.length), answer(status, text, close))
      }
      oks = 0
      if (close) break
    }
    if (oks > 0) out.push(OKS.subarray(0, oks * OK.length))
    acc = at < buf.length && !close ? buf.subarray(at) : undefined
    if (out.length === 1) socket.write(out[0])
    else if (out.length > 1) socket.write(Buffer.concat(out))
    if (close) socket.end()
  })
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
process.on('SIGTERM', () => { process.exit(0) })
