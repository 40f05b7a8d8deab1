/**
 * Users and their bearer tokens. A token belongs to one user; only its
 * SHA-256 hash is stored.
 */

/** Who a request acts for. */
export interface Principal {
  user: string
  tokenId: string
}

/** A stored token (never the secret). */
export interface TokenInfo {
  id: string
  user: string
  label?: string
  created: string
}

/** Token issuing and checking. */
export interface TokenStore {
  /** The principal a bearer secret belongs to; throws UnauthorizedError otherwise. */
  authenticate(secret: string): Promise<Principal>
  /** Creates a token for `user` (created if new); the secret is returned once. */
  create(user: string, label?: string): Promise<{ info: TokenInfo, secret: string }>
  /**
   * Makes sure the admin user has a bootstrap token: the given secret, or a
   * generated one on first start (returned so it can be shown once).
   */
  bootstrapAdmin(secret: string | undefined): Promise<{ generated?: string }>
}

/** User names: lowercase letters, digits and '-', 1–64 characters. */
export const USER_NAME = /^[a-z0-9-]{1,64}$/

export { createTokenStore } from './token-store.js'
export type { TokenStoreComponents } from './token-store.js'
