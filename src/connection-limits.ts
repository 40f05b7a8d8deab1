/**
 * How many connections the node keeps open, for HTTP and libp2p alike: every connection is a file descriptor,
 * and the block and datastore files need the rest.
 */
import { readFileSync } from 'node:fs'

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

/**
 * Connections one remote address may hold: the configured number, never more than a quarter of the whole cap
 * (at least 4). Under the whole cap alone, one address flooding it kept every other client out until its
 * connections timed out; with this, three quarters of the cap stay open to everyone else.
 */
export function perAddressCap (cap: number, configured = Number.POSITIVE_INFINITY): number {
  return Math.max(4, Math.min(configured, Math.floor(cap / 4)))
}
