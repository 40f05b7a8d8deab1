/**
 * The one logger: structured JSON lines through pino. Modules receive a child
 * logger as a component; nothing logs through the console.
 */
import { pino, type Logger as PinoLogger } from 'pino'

/** The logger type every component receives. */
export type Logger = PinoLogger

/** Options for {@link createLogger}. */
export interface LoggerInit {
  level: string
  /** Where lines go; defaults to stdout. */
  destination?: NodeJS.WritableStream
}

/** Builds the root logger. Authorization headers are never serialised. */
export function createLogger (init: LoggerInit): Logger {
  const options = {
    level: init.level,
    base: { service: 'pinery' },
    redact: { paths: ['req.headers.authorization', 'token', 'secret'], censor: '[redacted]' }
  }
  return init.destination == null ? pino(options) : pino(options, init.destination)
}
