// A preload for the service in bench:events (`PINERY_NODE_FLAGS='--import …/io-counts.mjs'`): counts what the
// process writes and reads on its sockets, by kind, so a run can say how many webhook POSTs, answers, stream
// writes and frames notifications cost, and the CPU of each of its threads (by name: main, the libuv pool's
// `libuv-worker`, V8's `V8 DefaultWorke`…). On each SIGUSR2 (the bench sends one before the first POST and one
// when every pin settled) it appends the totals so far as one JSON line to $TMPDIR/pinery-io-counts-<pid>.json.
// Kinds: `events` (a GET /events response's socket), `api` (every other server-side socket: POST /pins
// answers, the bench's polls), `client:<port>` (sockets this process opened: the webhook receivers and the
// origin peer, by remote port). A write is one socket.write/_writev call (one write syscall when not corked);
// `frames` counts SSE frames (`\nid: ` / leading `id: `) in what the event sockets were sent.
import { Socket } from 'node:net'
import { appendFileSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const totals = {}
const add = (kind, field, n) => {
  const t = (totals[kind] ??= { writes: 0, bytes: 0, reads: 0, readBytes: 0, frames: 0 })
  t[field] += n
}

function kindOf (socket) {
  if (socket.server != null) {
    const url = socket._httpMessage?.req?.url
    return typeof url === 'string' && url.startsWith('/events') ? 'events' : 'api'
  }
  return `client:${socket.remotePort ?? '?'}`
}

const frames = (chunk) => {
  if (typeof chunk === 'string') return chunk.split('\nid: ').length - 1 + (chunk.startsWith('id: ') ? 1 : 0)
  if (chunk instanceof Uint8Array) {
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let n = b.subarray(0, 4).toString('latin1') === 'id: ' ? 1 : 0
    for (let at = b.indexOf('\nid: '); at >= 0; at = b.indexOf('\nid: ', at + 1)) n++
    return n
  }
  return 0
}
const size = (chunk) => typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk?.byteLength ?? 0

const write = Socket.prototype._writeGeneric
Socket.prototype._writeGeneric = function (writev, data, encoding, cb) {
  const kind = kindOf(this)
  add(kind, 'writes', 1)
  const chunks = writev ? data.map(d => d.chunk) : [data]
  for (const c of chunks) {
    add(kind, 'bytes', size(c))
    if (kind === 'events') add(kind, 'frames', frames(c))
  }
  return write.call(this, writev, data, encoding, cb)
}
const push = Socket.prototype.push
Socket.prototype.push = function (chunk, encoding) {
  if (chunk != null) { const kind = kindOf(this); add(kind, 'reads', 1); add(kind, 'readBytes', size(chunk)) }
  return push.call(this, chunk, encoding)
}

/** CPU seconds (user, system) per thread name so far, from /proc/self/task/<tid>/stat. */
function threads () {
  const byName = {}
  for (const tid of readdirSync('/proc/self/task')) {
    let stat
    try { stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8') } catch { continue }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const key = tid === String(process.pid) ? 'main' : name.replace(/\d+$/, 'N')
    const t = (byName[key] ??= { user: 0, sys: 0, n: 0 })
    t.user += Number(f[11]) / 100
    t.sys += Number(f[12]) / 100
    t.n++
  }
  return byName
}

process.on('SIGUSR2', () => {
  appendFileSync(join(tmpdir(), `pinery-io-counts-${process.pid}.json`),
    JSON.stringify({ ...totals, threads: threads() }) + '\n')
})
