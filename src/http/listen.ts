/**
 * Puts the Express app on a socket: Node's own timeouts, a cap on open connections, a Failure body for requests
 * Node's parser refuses, and a close that lets in-flight responses finish before cutting busy keep-alive
 * connections off.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Express } from 'express'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Where and how long: the HTTP half of the configuration. */
export interface HttpListenerInit {
  host: string
  port: number
  /** Whole-request timeout; headers get at most 10 s of it. */
  requestTimeoutMs: number
  /** How long busy keep-alive connections may keep a stopping server open. */
  closeGraceMs: number
  /** Open connections at most (see {@link connectionCap}); further ones are closed as they arrive. */
  maxConnections?: number
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

/** The process's open-file limit (Node raises the soft limit to the hard one at start), or undefined if unknown. */
export function openFileLimit (): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return line == null ? undefined : Number(line[1])
  } catch {
    return undefined
  }
}

/**
 * A connection cap (HTTP's, libp2p's): the configured one, but at most a quarter of the open-file limit.
 * Without a cap a flood of idle HTTP connections (no token needed to open one) took every descriptor: block
 * files could not be created, so uploads answered 500 and fetches would fail their pins, and /health
 * reported the blockstore down (limit 300, 400 connections, 2026-11-30); one peer dialling the node 272
 * times did the same through libp2p (limit 300). The other half is left to LevelDB and block files.
 */
export function connectionCap (configured: number, fileLimit = openFileLimit()): number {
  return fileLimit == null ? configured : Math.max(8, Math.min(configured, Math.floor(fileLimit / 4)))
}

/** Listens and resolves once bound; a bind error is a ConfigError naming the address. */
export async function listenHttp (init: HttpListenerInit, components: HttpListenerComponents): Promise<HttpListener> {
  const { uploads } = components
  const server = components.app.listen(init.port, init.host)
  server.requestTimeout = init.requestTimeoutMs
  server.headersTimeout = Math.min(init.requestTimeoutMs, 10_000)
  if (init.maxConnections != null) {
    server.maxConnections = init.maxConnections
    let dropped = 0
    let warned = 0
    server.on('drop', () => {
      dropped++
      if (Date.now() - warned < 10_000) return
      warned = Date.now()
      components.logger?.warn({ dropped, maxConnections: init.maxConnections },
        'HTTP connections refused: the open-connection cap is reached (PINERY_MAX_HTTP_CONNECTIONS)')
    })
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
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
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
