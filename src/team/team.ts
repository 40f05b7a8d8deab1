/**
 * Team administration over the user and token stores and the pin index.
 */
import { ConflictError, InvalidRequestError, NotFoundError, UnauthorizedError, isErrorNamed } from '../errors.js'
import type { DeletedUser, LocalTeam, NodeUsage, Usage, UserView } from './index.js'
import type { TokenStore, User, UserStore } from '../auth/index.js'
import type { PinIndex } from '../pins/query-index.js'

/** What the team needs. */
export interface TeamComponents {
  users: UserStore
  tokens: Pick<TokenStore, 'create' | 'list' | 'revoke' | 'revokeAll'>
  index: Pick<PinIndex, 'usage'>
  /** Removes every pin request of `owner`; returns how many. */
  removePins(owner: string): Promise<number>
  /** Removes every webhook `owner` registered: a new user of the same name must not inherit them. */
  removeWebhooks(owner: string): Promise<number>
  /** Runs `work` while no new pin request of `owner` can be admitted (Quota.retire). */
  retire<T>(owner: string, work: () => Promise<T>): Promise<T>
  /** Blocks and bytes in the blockstore. */
  nodeUsage(): Promise<NodeUsage>
}

/** Creates the team administration. */
export function createTeam (components: TeamComponents): LocalTeam {
  const { users, tokens, index } = components

  function usageOf (user: User): Usage {
    const { counts, bytes, cids } = index.usage(user.name)
    return { user: user.name, pins: counts, bytes, cids, limits: user.quota ?? {} }
  }

  const view = (user: User): UserView => ({ ...user, usage: usageOf(user) })

  async function existing (name: string): Promise<User> {
    const user = await users.get(name)
    if (user == null) throw new NotFoundError(`no user ${name}`)
    return user
  }

  const pinCount = (name: string): number => Object.values(index.usage(name).counts).reduce((a, b) => a + b, 0)

  /** The rest of deleting a removed user: tokens, webhooks and pin requests, then the deletion is complete. */
  async function removeTokensAndPins (name: string): Promise<DeletedUser> {
    const revokedTokens = await tokens.revokeAll(name)
    await components.removeWebhooks(name)
    let removedPins = 0
    // Again until none is left: requests admitted just before the door closed land meanwhile.
    for (let removed = -1; removed !== 0 && pinCount(name) > 0;) {
      removed = await components.removePins(name)
      removedPins += removed
    }
    await users.removed(name)
    return { removedPins, revokedTokens }
  }

  return {
    async listUsers () {
      return (await users.list()).map(view)
    },

    async getUser (name) {
      return view(await existing(name))
    },

    async createUser (name, changes) {
      return view(await users.create(name, changes))
    },

    async updateUser (name, changes) {
      // A member's node-wide webhooks are disabled in the same write (the user store's hook).
      return view(await users.update(name, changes))
    },

    async deleteUser (name, options = {}) {
      if (name === 'admin') throw new InvalidRequestError('the admin user cannot be deleted')
      // Removed, but the rest failed (a full disk): finished now rather than only at the next start, when
      // the name could not be taken meanwhile and the removed user's requests stayed.
      if ((await users.removing()).includes(name)) {
        try {
          return await components.retire(name, async () => await removeTokensAndPins(name))
        } catch (err) {
          // retire refuses a second deletion while one runs: that is a conflict, not the caller's token.
          if (isErrorNamed(err, UnauthorizedError.name)) throw new ConflictError(`user ${name} is being deleted now`)
          throw err
        }
      }
      await existing(name)
      const pins = pinCount(name)
      if (pins > 0 && options.removePins !== true) {
        throw new ConflictError(`user ${name} still has ${pins} pin requests; ` +
          'delete them first, or ask to remove them too (remove_pins=true)')
      }
      return await components.retire(name, async () => {
        // The user first: their tokens stop working at once, and admits are closed meanwhile. The
        // store remembers the deletion until `removed`, so a crash before then is finished at start.
        await users.remove(name)
        return await removeTokensAndPins(name)
      })
    },

    async finishDeletions () {
      const names = await users.removing()
      for (const name of names) await components.retire(name, async () => await removeTokensAndPins(name))
      return names
    },

    async listTokens (user) {
      await existing(user)
      return await tokens.list(user)
    },

    async createToken (user, options) {
      await existing(user)
      return await tokens.create(user, options)
    },

    async revokeToken (user, tokenId) {
      await existing(user)
      if (!await tokens.revoke(user, tokenId)) throw new NotFoundError(`user ${user} has no token ${tokenId}`)
    },

    async usage (user) {
      return usageOf(await existing(user))
    },

    async teamUsage () {
      return { users: (await users.list()).map(usageOf), node: await components.nodeUsage() }
    }
  }
}
