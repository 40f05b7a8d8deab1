// bench:events stream clients, in their own process as real clients would be:
// `node sse-clients.mjs <events URL> <token>[,<token>…] <n>` opens n GET /events streams, spread over the
// tokens in equal blocks (a user may hold 32 streams), and counts the events each receives; a stream
// refused ends this process with the answer. Prints {"port":N}; GET /_stats → {min, max} events per stream.
//
// Each stream is a plain TCP connection with the GET written by hand, not node:http: the body comes
// as chunked transfer coding, and node:http's parser and stream machinery per read were most of this
// process's CPU (~1 GB of frames per 10,000-pin run with 50 streams, on Pinery's cores; round eight,
// RESULTS.md). The chunk framing needs no decoding to count: Pinery writes whole frames per chunk, and
// every event frame has exactly one line "event: pin.…" (a data line is one line of JSON, which has no
// raw newline), so the "\nevent: pin." lines are counted where each read arrived (only the few bytes
// around a seam between reads are copied).
import { connect } from 'node:net'
import { createServer } from 'node:http'

const [url, tokenList, n] = process.argv.slice(2)
const target = new URL(url)
const tokens = tokenList.split(',')
const perToken = Math.ceil(Number(n) / tokens.length)
const counts = []
const MARK = Buffer.from('\nevent: pin.')
for (let i = 0; i < Number(n); i++) {
  counts.push(0)
  const socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true })
  socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n` +
    `authorization: Bearer ${tokens[Math.floor(i / perToken)]}\r\naccept: text/event-stream\r\n\r\n`)
  let head = true
  let carry = Buffer.alloc(0)
  socket.on('error', (err) => { process.stderr.write(`stream ${i}: ${err.message}\n`); process.exit(1) })
  socket.on('data', (chunk) => {
    if (head) {
      // The status line comes in the first read; anything but 200 ends the bench.
      if (!chunk.toString('latin1', 0, 13).startsWith('HTTP/1.1 200 ')) {
        process.stderr.write(`stream ${i}: ${chunk.toString()}\n`)
        process.exit(1)
      }
      head = false
    }
    // A mark split across reads: only the few bytes around the seam are copied, not each read.
    if (carry.length > 0) {
      const seam = Buffer.concat([carry, chunk.subarray(0, MARK.length - 1)])
      const split = seam.indexOf(MARK)
      if (split >= 0 && split < carry.length) counts[i]++
    }
    let at = 0
    while ((at = chunk.indexOf(MARK, at)) >= 0) { counts[i]++; at += MARK.length }
    const tail = chunk.length >= MARK.length - 1 ? chunk : Buffer.concat([carry, chunk])
    carry = Buffer.from(tail.subarray(Math.max(0, tail.length - MARK.length + 1)))
  })
}
const server = createServer((_req, res) => {
  res.end(JSON.stringify({ min: Math.min(...counts), max: Math.max(...counts) }))
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
process.on('SIGTERM', () => { process.exit(0) })
