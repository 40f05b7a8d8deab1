/**
 * The per-address connection cap (listen.ts) for clients behind a trusted reverse proxy. That cap counts
 * sockets, and a socket's peer is all it can see (no headers yet when a connection opens): behind a proxy
 * every client is the proxy's one address, so one client holding slow requests (uploads, event streams)
 * used up the share of everyone behind it. A trusted proxy's connections are left to the whole cap there,
 * and here each request through it counts toward the client its X-Forwarded-For names (client-address.ts,
 * IPv6 by its /64 as the connection cap counts): at most `max` open at once, as a client connecting
 * directly may hold `max` connections (HTTP/1.1: one request each). Requests from any other peer are the
 * connection cap's, and pass.
 */
import { addressGroup } from '../connection-limits.js'
import { sendFailure } from './errors.js'
import type { ClientAddress } from './client-address.js'
import type { RequestHandler } from 'express'

/** Settings of the cap. */
export interface ClientRequestCapInit {
  /** Open requests one client behind a trusted proxy may have (the per-address connection cap's number). */
  max: number
}

/** What the cap needs. */
export interface ClientRequestCapComponents {
  /** Whether the socket's peer is a trusted proxy. */
  isTrustedPeer(address: string | undefined): boolean
  clientAddress: ClientAddress
}

/** Refuses a request through a trusted proxy with 429 while its client has `max` open. */
export function clientRequestCap (init: ClientRequestCapInit, components: ClientRequestCapComponents): RequestHandler {
  const open = new Map<string, number>()
  return (req, res, next) => {
    if (!components.isTrustedPeer(req.socket.remoteAddress)) { next(); return }
    const client = addressGroup(components.clientAddress(req) ?? '')
    const held = open.get(client) ?? 0
    if (held >= init.max) {
      res.setHeader('Retry-After', '1')
      const details = `this client has ${held} requests open through the proxy, the most one address may ` +
        '(PINERY_MAX_HTTP_CONNECTIONS_PER_ADDRESS); retry when one has ended'
      sendFailure(res, 429, 'TOO_MANY_REQUESTS', details)
      return
    }
    open.set(client, held + 1)
    res.once('close', () => {
      const left = (open.get(client) ?? 1) - 1
      if (left === 0) open.delete(client)
      else open.set(client, left)
    })
    next()
  }
}
