/**
 * A libp2p ComponentLogger that writes into Pinery's pino logger, so Helia's
 * and libp2p's own debug output lands in the one log (as `component`
 * `libp2p:…`, `helia:…`, `bitswap:…`) instead of the `DEBUG` env variable's
 * stderr stream. Everything they say, errors included, is logged at debug
 * (their errors are mostly a peer going away, not Pinery failing); their
 * trace at trace. Nothing is formatted unless that level is enabled.
 */
import { format } from 'node:util'
import { base32 } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { base64 } from 'multiformats/bases/base64'
import type { Logger } from '../logger.js'
import type { ComponentLogger, Logger as Libp2pLogger } from '@libp2p/interface'

type Level = 'debug' | 'trace'

// The format directives @libp2p/logger adds to debug's (%p peer, %c CID, %a multiaddr, %k key, bytes, error).
const DIRECTIVES: Record<string, (v: unknown) => string> = {
  p: v => String(v),
  c: v => String(v),
  a: v => String(v),
  k: v => String(v),
  b: v => v instanceof Uint8Array ? base58btc.baseEncode(v) : String(v),
  t: v => v instanceof Uint8Array ? base32.baseEncode(v) : String(v),
  m: v => v instanceof Uint8Array ? base64.baseEncode(v) : String(v),
  e: v => v instanceof Error ? (v.stack ?? v.message) : String(v)
}

/** Formats a debug-style call: libp2p's own directives first, then util.format for %s, %d, %o, %j… */
export function formatLogArgs (formatter: unknown, args: unknown[]): string {
  if (typeof formatter !== 'string') return format(formatter, ...args)
  const rest = [...args]
  let index = 0
  const text = formatter.replace(/%([a-zA-Z%])/g, (match, letter: string) => {
    if (letter === '%') return match
    const directive = DIRECTIVES[letter]
    if (directive == null) { index++; return match }
    // Handed on as a %s argument, so a `%` in the text is not read as a directive.
    rest[index] = directive(rest[index])
    index++
    return '%s'
  })
  return format(text, ...rest)
}

function componentLog (logger: Logger, name: string): Libp2pLogger {
  const write = (level: Level) => (formatter: unknown, ...args: unknown[]): void => {
    if (logger.isLevelEnabled(level)) logger[level]({ component: name }, formatLogArgs(formatter, args))
  }
  const log = Object.assign(write('debug'), {
    error: write('debug'),
    trace: write('trace'),
    newScope: (scope: string) => componentLog(logger, `${name}:${scope}`)
  })
  // libp2p checks `enabled` before building costly messages.
  Object.defineProperty(log, 'enabled', { get: () => logger.isLevelEnabled('debug'), enumerable: true })
  return log as Libp2pLogger
}

/** The ComponentLogger handed to Helia and libp2p: their lines go to `logger` at debug level. */
export function createComponentLogger (logger: Logger): ComponentLogger {
  return {
    forComponent (name) {
      return componentLog(logger, name)
    }
  }
}
