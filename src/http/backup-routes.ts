/**
 * `GET /backup` (admin): the node's backup archive as a tar stream (see backup/archive.ts), read from one
 * datastore snapshot while the service keeps running, so an operator can keep a copy off the box with one
 * request. One backup at a time: it reads every block, and a second one would only double that.
 */
import { Router } from 'express'
import { ConflictError } from '../errors.js'
import { requireScope } from './scopes.js'
import type { BackupWriter } from '../backup/backup-writer.js'
import type { Logger } from '../logger.js'

/** Settings of the route. */
export interface BackupRoutesInit {
  /**
   * A backup whose client takes nothing for this long is ended. It holds garbage collection and the one-backup
   * lock while it runs: a client that stops reading without hanging up (a paused browser download) kept both
   * for good, so deleted pins were never collected and every later backup answered 409.
   */
  idleTimeoutMs: number
}

/** What the route needs. */
export interface BackupRoutesComponents {
  backup: BackupWriter
  logger: Pick<Logger, 'info' | 'warn'>
}

/** Builds the router (mounted after authentication). */
export function backupRoutes (init: BackupRoutesInit, components: BackupRoutesComponents): Router {
  const router = Router()
  let running = false
  router.get('/backup', requireScope('admin'), async (_req, res) => {
    if (running) throw new ConflictError('a backup is already being written; try again when it has finished')
    running = true
    const controller = new AbortController()
    try {
      const tar = await components.backup.archive({ signal: controller.signal })
      const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')
      res.setHeader('Content-Type', 'application/x-tar')
      res.setHeader('Content-Disposition', `attachment; filename="pinery-backup-${stamp}.tar"`)
      res.setHeader('Cache-Control', 'no-store')
      const started = Date.now()
      await new Promise<void>((resolve) => {
        let ended = false
        const done = (outcome: string, err?: Error): void => {
          if (ended) return
          ended = true
          running = false
          const fields = { seconds: (Date.now() - started) / 1000, err }
          if (outcome === 'written') components.logger.info(fields, 'backup written')
          else components.logger.warn(fields, `backup ${outcome}`)
          resolve()
        }
        tar.on('error', (err: Error) => { res.destroy(); done('failed', err) })
        res.on('close', () => {
          if (res.writableFinished) { done('written'); return }
          controller.abort()
          tar.destroy()
          done('not finished: the client went away')
        })
        // No progress at all (the socket neither sends nor receives) for this long: the client is not reading.
        res.setTimeout(init.idleTimeoutMs, () => { res.destroy() })
        tar.pipe(res)
      })
    } catch (err) {
      running = false
      throw err
    }
  })
  return router
}
