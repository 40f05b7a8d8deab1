/**
 * The service process: reads the configuration, starts Pinery, reports where
 * it listens, and stops it on SIGINT/SIGTERM. Bad configuration ends the
 * process with one line on stderr and a non-zero exit.
 */
import { configHelp, loadConfig } from './config.js'
import { createLogger } from './logger.js'
import { createPinery } from './composition-root.js'
import { diskFull } from './errors.js'

function fail (message: string): never {
  process.stderr.write(`pinery: ${message}\n`)
  process.exit(1)
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(configHelp())
  process.exit(0)
}

let config
try {
  config = loadConfig()
} catch (err) {
  fail((err as Error).message)
}

const logger = createLogger({ level: config.logLevel })
let pinery
try {
  pinery = await createPinery(config, {
    logger,
    // As PostgreSQL after a failed fsync: start again from what is on disk (write-guard.ts says why).
    diverged: (err) => {
      logger.fatal({ err }, 'exiting: the records no longer match what the service answered; start it again')
      process.stderr.write(`pinery: ${err.message}; exiting so that the next start rebuilds from the records\n`)
      process.exit(70)
    }
  })
} catch (err) {
  const e = err as Error
  if (e.name === 'ConfigError' || e.name === 'DataDirLockedError') fail(e.message)
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || /multiaddr|listen/i.test(e.message)) {
    fail(`cannot start the libp2p node: ${e.message}`)
  }
  logger.fatal({ err }, 'startup failed')
  // The operator reads stderr; the log line above (stdout) carries the stack for machines.
  const hint = diskFull(e) ? ' (the data dir\'s disk is full: free some room and start again)' : ''
  fail(`startup failed: ${e.message}${hint}`)
}

// Before the ready block: whoever reads it may send SIGTERM at once, and must get a clean stop (an exit
// by the signal's default action skipped it: the index snapshot, the webhook cursors).
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1)
    stopping = true
    logger.info({ signal }, 'stopping')
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'stopping took too long; exiting anyway')
      process.exit(1)
    }, config.shutdownTimeoutMs).unref()
    pinery.stop().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'error while stopping')
      process.exit(1)
    })
  })
}

if (pinery.generatedAdminToken != null) {
  // Shown once, on stderr and never through the logger: logs must not hold secrets.
  process.stderr.write(`\nGenerated the admin token (also written to ${config.dataDir}/admin-token, mode 0600):\n\n` +
    `  ${pinery.generatedAdminToken}\n\n`)
}
// For the operator whatever the log level (stderr, beside the admin token); the log line is for machines.
const delegates = pinery.node.delegates()
process.stderr.write([
  'Pinery is ready', `  API:      ${pinery.url}`, `  web app:  ${pinery.url}/ in a browser (sign in with a token)`,
  `  peer ID:  ${pinery.node.peerId}`,
  ...delegates.map(d => `  delegate: ${d}`), ''
].join('\n'))
logger.info({ url: pinery.url, peerId: pinery.node.peerId, delegates }, 'ready')
