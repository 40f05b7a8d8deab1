/**
 * The limit on failed sign-ins (`POST /session`): per client address (an
 * IPv6 one by its /64, as the connection cap counts them) and node-wide.
 * A sign-in attempt takes a token from both buckets before its token is
 * checked, so parallel attempts cannot all slip in before the first fails;
 * one that succeeds gives them back, so only failures count. Before, each
 * attempt was one SHA-256 and one LevelDB read, unlimited.
 */
import { addressGroup } from '../connection-limits.js'
import { createBuckets, type RateLimitInit } from './rate-limit.js'

/** Settings of the limit. */
export interface SignInLimitInit {
  /** Failed sign-ins per client address (IPv6: per /64). */
  perAddress: RateLimitInit
  /** Failed sign-ins on the node, from every address together. */
  global: RateLimitInit
  /** Addresses remembered at most (least recently failing first out): bounded memory under many addresses. */
  maxAddresses: number
}

/**
 * Defaults. A person mistyping a token fails a few times: 10 in a row, then one every 6 s. Tokens are 256
 * random bits, so this is about the work and the noise, not the odds. The node-wide ceiling only caps the
 * work (100 checks a second, one SHA-256 and one LevelDB read each): set low, it would let ~60 addresses
 * failing at their own rate lock every person out of signing in; at 100 a second it takes ~600. 10,000
 * addresses are ~1.5 MB at most. These are not settings; behind a reverse proxy, PINERY_TRUSTED_PROXIES
 * (client-address.ts) is: without it every client is the proxy's one address, and one person's failures, or
 * someone's guessing, hold up everyone's sign-in.
 */
export const SIGN_IN_LIMIT: SignInLimitInit = {
  perAddress: { perSecond: 1 / 6, burst: 10 },
  global: { perSecond: 100, burst: 1000 },
  maxAddresses: 10_000
}

/** Why an attempt may not go on: the 429's Retry-After (seconds) and details. */
export interface SignInRefusal { retryAfter: number, details: string }

/** The limit, held for the app's lifetime. */
export interface SignInLimit {
  /**
   * Takes one attempt for the client at `address` (the socket's remote address): undefined when it may go
   * on, else why not. Give it back with {@link SignInLimit.giveBack} unless its token failed.
   */
  admit(address: string | undefined): SignInRefusal | undefined
  /** The attempt admitted for `address` did not fail by its token (it signed in, or the store failed): not counted. */
  giveBack(address: string | undefined): void
  /** Addresses remembered now (for tests of the bound). */
  readonly addresses: number
}

/** Creates the limit with `init` (the defaults when left out). */
export function createSignInLimit (init: SignInLimitInit = SIGN_IN_LIMIT): SignInLimit {
  const perAddress = createBuckets({ ...init.perAddress, maxKeys: init.maxAddresses })
  const global = createBuckets(init.global)
  const every = Math.round(1 / init.perAddress.perSecond)
  return {
    admit (address) {
      const group = addressGroup(address ?? '')
      const mine = perAddress.take(group)
      if (mine > 0) {
        const details = `too many failed sign-ins from this address (${init.perAddress.burst}, then one every ` +
          `${every} s); retry in ${mine} s`
        return { retryAfter: mine, details }
      }
      const all = global.take('')
      if (all === 0) return undefined
      perAddress.giveBack(group)
      return { retryAfter: all, details: `too many failed sign-ins on this node just now; retry in ${all} s` }
    },
    giveBack (address) {
      perAddress.giveBack(addressGroup(address ?? ''))
      global.giveBack('')
    },
    get addresses () { return perAddress.size }
  }
}
