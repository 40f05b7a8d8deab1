/**
 * Users in the datastore (`/pinery/auth/user/<name>` → JSON). They are few
 * and read on every pin request (roles, quotas), so all of them are kept in
 * memory once loaded; every change is written through, synced.
 */
import { Key } from 'interface-datastore'
import { ConflictError, InvalidRequestError, NotFoundError } from '../errors.js'
import { USER_NAME, type Role, type User, type UserChanges, type UserStore } from './index.js'
import type { Datastore } from 'interface-datastore'

/** Where users are kept. */
export interface UserStoreComponents {
  datastore: Pick<Datastore, 'get' | 'put' | 'delete' | 'query'>
}

const PREFIX = '/pinery/auth/user/'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

function checkName (name: string): void {
  if (!USER_NAME.test(name)) throw new InvalidRequestError(`user name "${name}" must be 1-64 lowercase letters, digits or '-'`)
}

/** Creates the user store. */
export function createUserStore (components: UserStoreComponents): UserStore {
  const { datastore } = components
  let cache: Promise<Map<string, User>> | undefined

  async function all (): Promise<Map<string, User>> {
    cache ??= (async () => {
      const users = new Map<string, User>()
      for await (const { value } of datastore.query({ prefix: PREFIX })) {
        const user = JSON.parse(decoder.decode(value)) as User
        users.set(user.name, user)
      }
      return users
    })()
    return await cache
  }

  async function save (user: User): Promise<User> {
    await datastore.put(new Key(`${PREFIX}${user.name}`), encoder.encode(JSON.stringify(user)))
    ;(await all()).set(user.name, user)
    return user
  }

  function withChanges (user: User, changes: UserChanges): User {
    const next: User = { ...user, ...(changes.role != null ? { role: changes.role } : {}) }
    if (changes.quota === undefined) return next
    const quota = { ...next.quota, ...changes.quota }
    // null clears a limit; an empty quota is no quota.
    const kept = Object.fromEntries(Object.entries(quota).filter(([, v]) => v != null)) as User['quota']
    delete next.quota
    return kept == null || Object.keys(kept).length === 0 ? next : { ...next, quota: kept }
  }

  return {
    async get (name) {
      return (await all()).get(name)
    },

    async list () {
      return [...(await all()).values()].sort((a, b) => a.name.localeCompare(b.name))
    },

    async create (name, changes = {}) {
      checkName(name)
      if ((await all()).has(name)) throw new ConflictError(`user ${name} exists already`)
      return await save(withChanges({ name, role: 'member', created: new Date().toISOString() }, changes))
    },

    async ensure (name, role: Role) {
      checkName(name)
      return (await all()).get(name) ?? await save({ name, role, created: new Date().toISOString() })
    },

    async update (name, changes) {
      const user = (await all()).get(name)
      if (user == null) throw new NotFoundError(`no user ${name}`)
      if (name === 'admin' && changes.role === 'member') throw new InvalidRequestError('the admin user keeps the admin role')
      return await save(withChanges(user, changes))
    },

    async remove (name) {
      const users = await all()
      if (!users.has(name)) return false
      await datastore.delete(new Key(`${PREFIX}${name}`))
      users.delete(name)
      return true
    }
  }
}
