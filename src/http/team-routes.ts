/**
 * Team routes. `GET /usage` shows the caller's own usage; the rest needs the
 * admin scope: users (create, list, change, delete), any user's tokens, and
 * `GET /usage/all` with every user and the node's totals.
 */
import { Router } from 'express'
import { InvalidRequestError } from '../errors.js'
import { principalOf } from './auth.js'
import { requireScope } from './scopes.js'
import { parseTokenBody, parseUserBody, parseUserChanges, smallJsonBody as body } from './team-schemas.js'
import type { Team } from '../team/index.js'

/** What the routes need. */
export interface TeamRoutesComponents {
  team: Team
}

function flag (value: unknown, name: string): boolean {
  if (value == null || value === 'false') return false
  if (value === 'true') return true
  throw new InvalidRequestError(`${name} must be true or false`)
}

/** Builds the router (mounted after authentication). */
export function teamRoutes (components: TeamRoutesComponents): Router {
  const { team } = components
  const router = Router()
  const admin = requireScope('admin')
  const name = (params: Record<string, unknown>): string => String(params.name)

  router.get('/usage', requireScope('pins:read'), async (_req, res) => {
    res.json(await team.usage(principalOf(res).user))
  })
  router.get('/usage/all', admin, async (_req, res) => {
    res.json(await team.teamUsage())
  })

  router.route('/users')
    .get(admin, async (_req, res) => {
      const results = await team.listUsers()
      res.json({ count: results.length, results })
    })
    .post(admin, body, async (req, res) => {
      const { name, changes } = parseUserBody(req.body)
      res.status(201).json(await team.createUser(name, changes))
    })

  router.route('/users/:name')
    .get(admin, async (req, res) => {
      res.json(await team.getUser(name(req.params)))
    })
    .patch(admin, body, async (req, res) => {
      res.json(await team.updateUser(name(req.params), parseUserChanges(req.body)))
    })
    .delete(admin, async (req, res) => {
      res.json(await team.deleteUser(name(req.params), { removePins: flag(req.query.remove_pins, 'remove_pins') }))
    })

  router.route('/users/:name/tokens')
    .get(admin, async (req, res) => {
      const results = await team.listTokens(name(req.params))
      res.json({ count: results.length, results })
    })
    .post(admin, body, async (req, res) => {
      // The admin's token is recorded as the creator, and bounds the new token's expiry.
      const options = { ...parseTokenBody(req.body), creator: principalOf(res) }
      const { info, secret } = await team.createToken(name(req.params), options)
      res.status(201).json({ ...info, secret })
    })

  router.delete('/users/:name/tokens/:id', admin, async (req, res) => {
    await team.revokeToken(name(req.params), String(req.params.id))
    res.status(204).end()
  })

  return router
}
