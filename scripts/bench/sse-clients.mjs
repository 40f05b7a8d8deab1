// bench:events stream clients, in their own process as real clients would be:
// `node sse-clients.mjs <events URL> <token> <n>` opens n GET /events streams and counts the
// frames each receives. Prints {"port":N}; GET /_stats on that port → {min, max} frames per stream.
import { get, createServer } from 'node:http'

const [url, token, n] = process.argv.slice(2)
const counts = []
const MARK = Buffer.from('\n\nid: ')
for (let i = 0; i < Number(n); i++) {
  counts.push(0)
  get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
    let carry = Buffer.alloc(0)
    res.on('data', (chunk) => {
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk
      let at = 0
      while ((at = buf.indexOf(MARK, at)) >= 0) { counts[i]++; at += MARK.length }
      carry = buf.subarray(Math.max(0, buf.length - MARK.length + 1))
    })
  })
}
const server = createServer((_req, res) => {
  res.end(JSON.stringify({ min: Math.min(...counts), max: Math.max(...counts) }))
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
