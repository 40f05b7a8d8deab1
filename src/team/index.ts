/**
 * Running a team: users, their tokens and quotas, and what everyone's pins
 * add up to. The same interface is served over HTTP (admin routes), run on
 * the data dir by the offline CLI, and called over HTTP by the online CLI.
 */
import type { TokenInfo, TokenOptions, User, UserChanges } from '../auth/index.js'
import type { PinState } from '../pins/types.js'
import type { Limits } from '../pins/quota.js'

/** What a user's pins add up to. */
export interface Usage {
  user: string
  /** Pin requests by status. */
  pins: Record<PinState, number>
  /** dagSize summed once per distinct CID of the user's pinned requests. */
  bytes: number
  /** Distinct CIDs among the user's pinned requests. */
  cids: number
  /** The user's limits; an absent field is unlimited. */
  limits: Limits
}

/** A user with their usage. */
export interface UserView extends User {
  usage: Usage
}

/** Blocks stored on this node, pinned or not yet collected. */
export interface NodeUsage {
  blocks: number
  bytes: number
}

/** Usage of every user and of the node. */
export interface TeamUsage {
  users: Usage[]
  node: NodeUsage
}

/** What deleting a user removed. */
export interface DeletedUser {
  removedPins: number
  revokedTokens: number
}

/** Team administration. Unknown users → NotFoundError. */
export interface Team {
  listUsers(): Promise<UserView[]>
  getUser(name: string): Promise<UserView>
  createUser(name: string, changes?: UserChanges): Promise<UserView>
  updateUser(name: string, changes: UserChanges): Promise<UserView>
  /** Refuses (ConflictError) while the user has pin requests, unless `removePins`. */
  deleteUser(name: string, options?: { removePins?: boolean }): Promise<DeletedUser>
  listTokens(user: string): Promise<TokenInfo[]>
  createToken(user: string, options?: TokenOptions): Promise<{ info: TokenInfo, secret: string }>
  revokeToken(user: string, tokenId: string): Promise<void>
  usage(user: string): Promise<Usage>
  teamUsage(): Promise<TeamUsage>
}

/** The team on the data dir itself (not over HTTP): it also finishes what a crash cut short. */
export interface LocalTeam extends Team {
  /** Finishes the user deletions a crash cut short (their tokens and pins); resolves with the users' names. */
  finishDeletions(): Promise<string[]>
}

/** What any token may do for its own user (the self-service routes). */
export interface SelfService {
  listTokens(): Promise<TokenInfo[]>
  createToken(options?: TokenOptions): Promise<{ info: TokenInfo, secret: string }>
  revokeToken(tokenId: string): Promise<void>
  usage(): Promise<Usage>
}

export { createTeam } from './team.js'
export type { TeamComponents } from './team.js'
