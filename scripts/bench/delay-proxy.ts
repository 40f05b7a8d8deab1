/**
 * A TCP proxy on 127.0.0.1 that delays each direction by a fixed time: this kernel has no `netem`,
 * so bench:transfer --rtt puts one of these between two peers to give them a round-trip time.
 * Every chunk read is written out `delayMs` after it arrived, in order; there is no throughput cap
 * (a chunk is never held longer than the delay, and writes are not paced), only a bound on the bytes
 * held per direction (the reading side is paused above it) so that memory stays small.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

/** A running proxy. */
export interface DelayProxy {
  port: number
  close(): Promise<void>
}

/** Bytes held in one direction before its reading side is paused. */
const MAX_HELD = 64 * 1024 * 1024

/** Delays everything from `from` to `to` by `delayMs`, keeping order. */
function pipeDelayed (from: Socket, to: Socket, delayMs: number): void {
  const queue: Array<{ due: number, chunk: Buffer }> = []
  let held = 0
  let timer: NodeJS.Timeout | undefined
  let ended = false
  const flush = (): void => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && (queue[0] as { due: number }).due <= now + 0.5) {
      const { chunk } = queue.shift() as { chunk: Buffer }
      held -= chunk.byteLength
      to.write(chunk)
    }
    if (held < MAX_HELD && from.isPaused()) from.resume()
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, (queue[0] as { due: number }).due - now))
    else if (ended) to.end()
  }
  from.on('data', (chunk: Buffer) => {
    if (delayMs === 0 && queue.length === 0) { to.write(chunk); return }
    queue.push({ due: performance.now() + delayMs, chunk })
    held += chunk.byteLength
    if (held >= MAX_HELD) from.pause()
    timer ??= setTimeout(flush, delayMs)
  })
  from.on('end', () => {
    ended = true
    if (queue.length === 0) to.end()
  })
}

/** Starts a proxy to 127.0.0.1:`targetPort` adding `rttMs` of round-trip time (half each way). */
export async function startDelayProxy (targetPort: number, rttMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(inbound => {
    const outbound = connect(targetPort, '127.0.0.1')
    for (const s of [inbound, outbound]) {
      s.setNoDelay(true)
      sockets.add(s)
      s.on('close', () => { sockets.delete(s) })
      s.on('error', () => { inbound.destroy(); outbound.destroy() })
    }
    pipeDelayed(inbound, outbound, rttMs / 2)
    pipeDelayed(outbound, inbound, rttMs / 2)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('proxy has no port')
  return {
    port: address.port,
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/** The same multiaddr with its TCP port replaced by the proxy's. */
export function viaProxy (addr: string, port: number): string {
  return addr.replace(/\/tcp\/\d+/, `/tcp/${port}`)
}
