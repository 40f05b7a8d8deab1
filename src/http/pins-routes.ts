/**
 * The Pinning Service API routes: /pins and /pins/{requestid}.
 */
import { Router, json, type RequestHandler } from 'express'
import { is } from 'type-is'
import { InvalidRequestError } from '../errors.js'
import { principalOf } from './auth.js'
import { pinStatusRenderer } from './pin-status.js'
import { holdsUnsafeName, parsePinBody, parsePinQuery } from './schemas.js'
import { methodNotAllowed, sendFailure } from './errors.js'
import type { PinService } from '../pins/types.js'

/** What the routes need. */
export interface PinRoutesComponents {
  pins: PinService
  delegates(): string[]
}

/** Settings of the routes. */
export interface PinRoutesInit {
  maxBodyBytes: number
}

// Accept application/json and any +json type (type-is parses the header); everything else is refused with 415.
const isJson = (type: string | undefined): boolean =>
  type != null && is(type, ['application/json', 'application/*+json']) !== false

/** Builds the router. */
export function pinRoutes (init: PinRoutesInit, components: PinRoutesComponents): Router {
  const { pins } = components
  const router = Router()
  const status = pinStatusRenderer(components)

  const jsonBody: RequestHandler[] = [
    (req, res, next) => {
      if (!isJson(req.headers['content-type'])) {
        sendFailure(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with Content-Type: application/json')
        return
      }
      // body-parser reads a body it refuses to its very end before answering 413 (a client that
      // declares 10 GB waits for that, or for the request timeout): answer before reading it.
      const identity = (req.headers['content-encoding'] ?? 'identity').toLowerCase() === 'identity'
      if (identity && Number(req.headers['content-length']) > init.maxBodyBytes) {
        sendFailure(res, 413, 'PAYLOAD_TOO_LARGE', 'the body is larger than the service accepts')
        return
      }
      next()
    },
    json({ limit: init.maxBodyBytes, strict: false, type: () => true })
  ]

  const requestid = (value: string | string[] | undefined): string => {
    if (typeof value !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(value)) {
      throw new InvalidRequestError('requestid is malformed')
    }
    return value
  }

  router.route('/pins')
    .get(async (req, res) => {
      const query = parsePinQuery(req.query as Record<string, unknown>)
      const page = await pins.list(principalOf(res).user, query)
      res.json({ count: page.count, results: page.results.map(status) })
    })
    .post(...jsonBody, async (req, res) => {
      const request = parsePinBody(req.body)
      const record = await pins.add(principalOf(res).user, request)
      res.status(202).json(status(record))
    })
    .all(methodNotAllowed('GET, POST'))

  router.route('/pins/:requestid')
    .get(async (req, res) => {
      const record = await pins.get(principalOf(res).user, requestid(req.params.requestid))
      res.json(status(record))
    })
    .post(...jsonBody, async (req, res) => {
      const id = requestid(req.params.requestid)
      const owner = principalOf(res).user
      // A name stored before new names had to be free of control characters is kept when sent back as it is
      // (read only then: every other replace costs no extra read).
      const stored = holdsUnsafeName(req.body) ? (await pins.get(owner, id)).pin.name : undefined
      const request = parsePinBody(req.body, stored)
      const record = await pins.replace(owner, id, request)
      res.status(202).json(status(record))
    })
    .delete(async (req, res) => {
      await pins.remove(principalOf(res).user, requestid(req.params.requestid))
      res.status(202).end()
    })
    .all(methodNotAllowed('GET, POST, DELETE'))

  return router
}
