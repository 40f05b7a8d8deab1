/**
 * The team over a running service's HTTP API, for the CLI's online mode.
 * A Failure answer becomes a RemoteError carrying its status and reason.
 */
import { createRemoteCall } from './remote-call.js'
import type { TokenInfo, TokenOptions } from '../auth/index.js'
import type { DeletedUser, SelfService, Team, TeamUsage, Usage, UserView } from '../team/index.js'

/** Where the service is and who is asking. */
export interface RemoteTeamInit {
  url: string
  token: string
  /** Per request; the service answers admin requests well within it. */
  timeoutMs?: number
}

/** Deleting a user with many pins takes a while; the service finishes it even if we stop waiting. */
const SLOW_MS = 15 * 60_000

export { RemoteError } from './remote-call.js'

/** Creates a Team (admin routes) and the caller's SelfService that call the service at `init.url`. */
export function createRemoteTeam (init: RemoteTeamInit): { team: Team, self: SelfService } {
  const enc = encodeURIComponent
  const tokenBody = (options: TokenOptions): Record<string, string> => ({
    ...(options.label != null ? { label: options.label } : {}),
    ...(options.scope != null ? { scope: options.scope } : {}),
    ...(options.expires != null ? { expires: options.expires.toISOString() } : {})
  })

  const call = createRemoteCall(init)

  // The service answers a new token as its details with the secret beside them.
  async function issueToken (path: string, options: TokenOptions): Promise<{ info: TokenInfo, secret: string }> {
    const { secret, ...info } = await call<TokenInfo & { secret: string }>('POST', path, tokenBody(options))
    return { info, secret }
  }

  const team: Team = {
    listUsers: async () => (await call<{ results: UserView[] }>('GET', '/users')).results,
    getUser: async (name) => await call<UserView>('GET', `/users/${enc(name)}`),
    createUser: async (name, changes = {}) => await call<UserView>('POST', '/users', { name, ...changes }),
    updateUser: async (name, changes) => await call<UserView>('PATCH', `/users/${enc(name)}`, changes),
    deleteUser: async (name, options = {}) => {
      const query = options.removePins === true ? '?remove_pins=true' : ''
      return await call<DeletedUser>('DELETE', `/users/${enc(name)}${query}`, undefined, SLOW_MS)
    },
    listTokens: async (user) => (await call<{ results: TokenInfo[] }>('GET', `/users/${enc(user)}/tokens`)).results,
    createToken: async (user, options = {}) => await issueToken(`/users/${enc(user)}/tokens`, options),
    revokeToken: async (user, tokenId) => { await call('DELETE', `/users/${enc(user)}/tokens/${enc(tokenId)}`) },
    usage: async (user) => (await call<UserView>('GET', `/users/${enc(user)}`)).usage,
    teamUsage: async () => await call<TeamUsage>('GET', '/usage/all')
  }
  const self: SelfService = {
    listTokens: async () => (await call<{ results: TokenInfo[] }>('GET', '/tokens')).results,
    createToken: async (options = {}) => await issueToken('/tokens', options),
    revokeToken: async (tokenId) => { await call('DELETE', `/tokens/${enc(tokenId)}`) },
    usage: async () => await call<Usage>('GET', '/usage')
  }
  return { team, self }
}
