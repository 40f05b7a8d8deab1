/**
 * The team over a running service's HTTP API, for the CLI's online mode.
 * A Failure answer becomes a RemoteError carrying its status and reason.
 */
import type { TokenInfo, TokenOptions } from '../auth/index.js'
import type { DeletedUser, SelfService, Team, TeamUsage, Usage, UserView } from '../team/index.js'

/** Where the service is and who is asking. */
export interface RemoteTeamInit {
  url: string
  token: string
  /** Per request; the service answers admin requests well within it. */
  timeoutMs?: number
}

/** A Failure answer of the service. */
export class RemoteError extends Error {
  static override name = 'RemoteError'
  override name = RemoteError.name
  constructor (readonly status: number, readonly reason: string, details: string) {
    super(`${reason} (${status}): ${details}`)
  }
}

/** Deleting a user with many pins takes a while; the service finishes it even if we stop waiting. */
const SLOW_MS = 15 * 60_000

/** Creates a Team (admin routes) and the caller's SelfService that call the service at `init.url`. */
export function createRemoteTeam (init: RemoteTeamInit): { team: Team, self: SelfService } {
  const base = init.url.replace(/\/+$/, '')
  const enc = encodeURIComponent
  const tokenBody = (options: TokenOptions): Record<string, string> => ({
    ...(options.label != null ? { label: options.label } : {}),
    ...(options.scope != null ? { scope: options.scope } : {}),
    ...(options.expires != null ? { expires: options.expires.toISOString() } : {})
  })

  async function call<T> (
    method: string, path: string, body?: unknown, timeoutMs = init.timeoutMs ?? 60_000
  ): Promise<T> {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${init.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {})
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs)
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code
      if ((err as Error).name === 'TimeoutError') {
        throw new Error(
          `no answer from ${base} within ${timeoutMs / 1000} s (the service may still finish the request)`)
      }
      throw new Error(`cannot reach the service at ${base}: ${cause ?? (err as Error).message}`)
    }
    if (res.status === 204) return undefined as T
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new RemoteError(res.status, 'BAD_RESPONSE', `not JSON: ${text.slice(0, 200)}`)
    }
    if (!res.ok) {
      const failure = (parsed as { error?: { reason?: string, details?: string } }).error
      throw new RemoteError(res.status, failure?.reason ?? 'ERROR', failure?.details ?? text.slice(0, 200))
    }
    return parsed as T
  }

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
