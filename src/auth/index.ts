/**
 * Users and their bearer tokens. A user has a role; each of their devices
 * gets its own token with an access level, which can be revoked alone. Only
 * a SHA-256 hash of each secret is stored.
 */

import type { Limits } from '../pins/quota.js'
import type { ExtraOp } from '../pins/record-store.js'

/** Access levels, each including the ones before it. */
export const SCOPES = ['pins:add', 'pins:read', 'pins:write', 'admin'] as const

/** An access level. */
export type Scope = typeof SCOPES[number]

/** True when a token with `have` may do what needs `need`. */
export function scopeIncludes (have: Scope, need: Scope): boolean {
  return SCOPES.indexOf(have) >= SCOPES.indexOf(need)
}

/** Roles of users: only admins may hold the admin scope. */
export type Role = 'member' | 'admin'

/** Who a request acts for. */
export interface Principal {
  user: string
  tokenId: string
  scope: Scope
  /** RFC 3339, when the token expires; tokens it creates expire no later. */
  expires?: string
}

/**
 * Who creates a token: a token (through the API; its expiry bounds the new
 * one's), or the operator on a stopped data dir (`offline`, the CLI).
 */
export type TokenCreator = Principal | 'offline'

/** A stored token (never the secret). */
export interface TokenInfo {
  id: string
  user: string
  label?: string
  scope: Scope
  created: string
  /** RFC 3339; the token is refused after it. */
  expires?: string
  /** RFC 3339, to the minute: when the token last authenticated a request. */
  lastUsed?: string
  /**
   * The id of the token that created this one, or `offline` (the CLI on the
   * data dir); absent for the bootstrap token and tokens older than this field.
   */
  createdBy?: string
  /** The creating token's user, when that is another user (an admin). */
  createdByUser?: string
}

/** A user. */
export interface User {
  name: string
  role: Role
  created: string
  /** Limits on pinned bytes and pin requests; absent fields are unlimited. */
  quota?: Limits
}

/** Changes to a user; a quota field set to null removes that limit. */
export interface UserChanges {
  role?: Role
  quota?: { bytes?: number | null, pins?: number | null }
}

/** The users of the service. */
export interface UserStore {
  get(name: string): Promise<User | undefined>
  /** Every user, by name. */
  list(): Promise<User[]>
  /** Creates a user (a member unless told otherwise); ConflictError if the name is taken. */
  create(name: string, changes?: UserChanges): Promise<User>
  /** The user `name`, created with `role` if new. */
  ensure(name: string, role: Role): Promise<User>
  /** Changes a user; NotFoundError if there is none. */
  update(name: string, changes: UserChanges): Promise<User>
  /**
   * Removes the user record (tokens and pins are the caller's business, who calls `removed` once they
   * are gone); false if absent. Until then the name stays in `removing()` and cannot be created again.
   */
  remove(name: string): Promise<boolean>
  /** Users removed whose tokens and pins may not all be removed yet (a crash cut the deletion short). */
  removing(): Promise<string[]>
  /** The deletion of `name` is complete: its tokens and pins are gone. */
  removed(name: string): Promise<void>
  /**
   * Runs `fn` while `name` is an admin, one at a time with changes of that user (ForbiddenError otherwise):
   * what `fn` stores for an admin (a node-wide webhook) is either seen by a demotion's hook or refused.
   */
  whileAdmin<T>(name: string, fn: () => Promise<T>): Promise<T>
}

/** What a new token may say. */
export interface TokenOptions {
  label?: string
  /** Defaults to pins:write (admin for the admin user's bootstrap token). */
  scope?: Scope
  /** Defaults to the creator's own expiry; may be no later than it. */
  expires?: Date
  /** Recorded as `createdBy`; a token creator also bounds the expiry. */
  creator?: TokenCreator
}

/**
 * Told of a revocation of `user`'s `tokenIds` before it is written: its `extra` writes land in the
 * revocation's own batch (what the tokens set up is switched off with them, or nothing is), and `done`
 * runs once that batch is written.
 */
export type RevokeHook = (user: string, tokenIds: string[]) => { extra: ExtraOp[], done(): Promise<void> }

/**
 * Told of a user about to be stored (created or changed): its `extra` writes land in the same batch (a
 * member's node-wide webhooks are disabled with the demotion, or nothing is), and `done` runs once written.
 */
export type UserChangeHook = (user: User) => { extra: ExtraOp[], done(): Promise<void> }

/** Token issuing and checking. */
export interface TokenStore {
  /** The principal a bearer secret belongs to; throws UnauthorizedError otherwise. */
  authenticate(secret: string): Promise<Principal>
  /**
   * Creates a token for an existing `user` (NotFoundError otherwise); the
   * secret is returned once. ConflictError when the user has as many tokens
   * as allowed; InvalidRequestError for a label of control characters or an
   * expiry past the creator's.
   */
  create(user: string, options?: TokenOptions): Promise<{ info: TokenInfo, secret: string }>
  /** A user's tokens, oldest first. */
  list(user: string): Promise<TokenInfo[]>
  /** One of `user`'s tokens; undefined when it has no such token. */
  get(user: string, tokenId: string): Promise<TokenInfo | undefined>
  /**
   * Revokes one of `user`'s tokens and every token it created for `user`,
   * theirs in turn included (a token never outlives its creator's
   * revocation); returns how many (0: no such token). Takes effect on the
   * next request.
   */
  revoke(user: string, tokenId: string): Promise<number>
  /** Revokes every token of `user`; returns how many. */
  revokeAll(user: string): Promise<number>
  /**
   * Runs `fn` while token `tokenId` of `user` exists, one at a time with that user's revocations: what `fn`
   * stores for the token (a webhook it registers) is either seen by a revocation's hook or refused with
   * UnauthorizedError. Checked only when the request was authenticated, a webhook stored just after a
   * revocation looked for the token's webhooks outlived it, enabled.
   */
  whileValid<T>(user: string, tokenId: string, fn: () => Promise<T>): Promise<T>
  /**
   * Calls `listener` with the user and ids of tokens as they are revoked (once the removal is written;
   * the revocation answers once every listener has settled), so what a token set up ends with it: its
   * event streams, its webhooks. Returns what unsubscribes it.
   */
  onRevoke(listener: (user: string, tokenIds: string[]) => void | Promise<void>): () => void
  /**
   * Makes sure the admin user has a bootstrap token: the given secret, or a
   * generated one on first start (returned so it can be shown once). A
   * generated one is handed to `keep` before it is stored: once stored, no
   * other is generated, so the operator's copy must not be lost after it.
   */
  bootstrapAdmin(
    secret: string | undefined, options?: { keep?(generated: string): Promise<void> }
  ): Promise<{ generated?: string }>
}

/** The user whose bootstrap token PINERY_ADMIN_TOKEN sets; always an admin, never deleted. */
export const ADMIN_USER = 'admin'

/** User names: lowercase letters, digits and '-', 1–64 characters. */
export const USER_NAME = /^[a-z0-9-]{1,64}$/

/**
 * Token labels: 1–128 letters, marks, digits, punctuation, symbols and
 * spaces. No control or format characters (terminal escapes, bidi
 * overrides), no line breaks: labels are printed in admins' terminals.
 */
export const TOKEN_LABEL = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,128}$/u

/** {@link TOKEN_LABEL} in words, for error messages. */
export const LABEL_RULE = 'must be 1-128 letters, digits, punctuation, symbols or spaces (no control characters)'

/** Tokens a user may hold unless configured otherwise (PINERY_MAX_TOKENS_PER_USER). */
export const DEFAULT_MAX_TOKENS_PER_USER = 100

export { createTokenStore } from './token-store.js'
export type { TokenStoreComponents, TokenStoreInit } from './token-store.js'
export { createUserStore } from './user-store.js'
export type { UserStoreComponents } from './user-store.js'
