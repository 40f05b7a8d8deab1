// bench:events stream clients, in their own process as real clients would be:
// `node sse-clients.mjs <events URL> <token>[,<token>…] <n>` opens n GET /events streams, spread over the
// tokens in equal blocks (a user may hold 32 streams), and counts the frames each receives; a stream
// refused ends this process with the answer. Prints {"port":N}; GET /_stats → {min, max} frames per stream.
// Each chunk is scanned where it arrived (until round four each was first copied onto the last
// few bytes of the one before: ~1 GB copied per 10,000-pin run with 50 streams, on Pinery's cores).
import { get, createServer } from 'node:http'

const [url, tokenList, n] = process.argv.slice(2)
const tokens = tokenList.split(',')
const perToken = Math.ceil(Number(n) / tokens.length)
const counts = []
const MARK = Buffer.from('\n\nid: ')
for (let i = 0; i < Number(n); i++) {
  counts.push(0)
  get(url, { headers: { authorization: `Bearer ${tokens[Math.floor(i / perToken)]}` } }, (res) => {
    if (res.statusCode !== 200) {
      res.setEncoding('utf8')
      res.on('data', (text) => { process.stderr.write(`stream ${i}: ${res.statusCode} ${text}\n`); process.exit(1) })
      return
    }
    let carry = Buffer.alloc(0)
    res.on('data', (chunk) => {
      // A mark split across chunks: only the few bytes around the seam are copied, not each chunk.
      const seam = Buffer.concat([carry, chunk.subarray(0, MARK.length - 1)])
      const split = seam.indexOf(MARK)
      if (split >= 0 && split < carry.length) counts[i]++
      let at = 0
      while ((at = chunk.indexOf(MARK, at)) >= 0) { counts[i]++; at += MARK.length }
      const tail = chunk.length >= MARK.length - 1 ? chunk.subarray(chunk.length - MARK.length + 1) : seam
      carry = Buffer.from(tail.subarray(Math.max(0, tail.length - MARK.length + 1)))
    })
  })
}
const server = createServer((_req, res) => {
  res.end(JSON.stringify({ min: Math.min(...counts), max: Math.max(...counts) }))
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
