/**
 * Puts the Express app on a socket: Node's own timeouts, caps on open connections (in all and per remote
 * address), a Failure body for requests
 * Node's parser refuses, and a close that lets in-flight responses finish before cutting busy keep-alive
 * connections off.
 */
import { addressGroup } from '../connection-limits.js'
import { Counts } from '../counts.js'
import { ConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Express } from 'express'
import type { Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** Where and how long: the HTTP half of the configuration. */
export interface HttpListenerInit {
  host: string
  port: number
  /** Whole-request timeout; headers get at most 10 s of it. */
  requestTimeoutMs: number
  /** How long busy keep-alive connections may keep a stopping server open. */
  closeGraceMs: number
  /** Open connections at most (see connectionCap); further ones are closed as they arrive. */
  maxConnections?: number
  /** Open connections from one remote address at most (see perAddressCap); further ones are closed at once. */
  maxConnectionsPerAddress?: number
  /**
   * Peers the per-address cap leaves to the whole cap: trusted reverse proxies, whose connections carry many
   * clients (client-cap.ts counts those per client). Before, one client behind the proxy used up everyone's share.
   */
  uncappedPeer?(address: string | undefined): boolean
}

/** What the listener needs from the app. */
export interface HttpListenerComponents {
  app: Pick<Express, 'listen'>
  /** Sockets of uploads in progress: their own idle timeout applies instead of the whole-request one. */
  uploads: WeakSet<object>
  /** Says when connections were refused for the cap (at most once per 10 s). */
  logger?: Pick<Logger, 'warn'>
}

/** A listening HTTP server. */
export interface HttpListener {
  server: Server
  /** `http://host:port` as bound (port 0 resolved). */
  url: string
  /** Stops accepting; in-flight responses finish, busy connections are cut after the grace period. */
  close(): Promise<void>
}

/** Listens and resolves once bound; a bind error is a ConfigError naming the address. */
export async function listenHttp (init: HttpListenerInit, components: HttpListenerComponents): Promise<HttpListener> {
  const { uploads } = components
  const server = components.app.listen(init.port, init.host)
  server.requestTimeout = init.requestTimeoutMs
  server.headersTimeout = Math.min(init.requestTimeoutMs, 10_000)
  if (init.maxConnections != null) server.maxConnections = init.maxConnections
  const refused = refusalLog(components.logger)
  server.on('drop', () => {
    refused({ maxConnections: init.maxConnections },
      'HTTP connections refused: the open-connection cap is reached (PINERY_MAX_HTTP_CONNECTIONS)')
  })
  if (init.maxConnectionsPerAddress != null) {
    capPerAddress(server, init.maxConnectionsPerAddress, refused, init.uncappedPeer)
  }
  // Requests Node's parser refuses never reach Express: answer them with a Failure body too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // An upload may take longer than the whole-request timeout; its own idle timeout applies.
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && uploads.has(socket)) return
    if (!socket.writable) { socket.destroy(); return }
    const [status, reason] = err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'REQUEST_HEADER_FIELDS_TOO_LARGE']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'REQUEST_TIMEOUT'] : [400, 'BAD_REQUEST']
    const body = JSON.stringify({ error: { reason, details: 'the request could not be read as HTTP' } })
    socket.end(`HTTP/1.1 ${status} ${reason.replaceAll('_', ' ')}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ConfigError(`cannot listen on ${init.host}:${init.port}: ${err.code ?? err.message}`))
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    server,
    url: `http://${host}:${address.port}`,
    async close () {
      // In-flight responses finish and say Connection: close; clients that keep
      // their connections busy are cut off after a grace period.
      const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
      server.closeIdleConnections()
      const force = setTimeout(() => { server.closeAllConnections() }, init.closeGraceMs)
      await closed
      clearTimeout(force)
    }
  }
}

type Refused = (fields: Record<string, unknown>, message: string) => void

/** Counts refused connections and says so at most once per 10 s per kind, so a flood cannot flood the log. */
function refusalLog (logger: Pick<Logger, 'warn'> | undefined): Refused {
  const counts = new Map<string, { dropped: number, warned: number }>()
  return (fields, message) => {
    const count = counts.get(message) ?? { dropped: 0, warned: 0 }
    counts.set(message, count)
    count.dropped++
    if (Date.now() - count.warned < 10_000) return
    count.warned = Date.now()
    logger?.warn({ dropped: count.dropped, ...fields }, message)
  }
}

/**
 * Closes a connection at once when its remote address (an IPv6 one's /64: addressGroup) holds `max` open ones;
 * an `uncapped` peer's are not counted.
 */
function capPerAddress (server: Server, max: number, refused: Refused, uncapped?: (a?: string) => boolean): void {
  const open = new Counts<string>()
  server.on('connection', (socket: Socket) => {
    if (uncapped?.(socket.remoteAddress) === true) return
    const address = addressGroup(socket.remoteAddress ?? '')
    const held = open.count(address)
    if (held >= max) {
      socket.destroy()
      refused({ maxConnectionsPerAddress: max },
        'HTTP connections refused: one address holds its share of the cap (PINERY_MAX_HTTP_CONNECTIONS_PER_ADDRESS)')
      return
    }
    open.add(address)
    socket.once('close', () => { open.add(address, -1) })
  })
}
