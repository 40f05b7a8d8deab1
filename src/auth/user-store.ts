/**
 * Users in the datastore (`/pinery/auth/user/<name>` → JSON). They are few
 * and read on every pin request (roles, quotas), so all of them are kept in
 * memory once loaded. Changes to one name run one at a time (no lost
 * updates, no duplicate creates) and are durable before they return.
 */
import { Key } from 'interface-datastore'
import { ConflictError, ForbiddenError, InvalidRequestError, NotFoundError } from '../errors.js'
import { createKeyedMutex } from '../pins/keyed-mutex.js'
import {
  ADMIN_USER, USER_NAME, type Role, type User, type UserChangeHook, type UserChanges, type UserStore
} from './index.js'
import type { Datastore } from 'interface-datastore'

/** Where users are kept. */
export interface UserStoreComponents {
  datastore: Pick<Datastore, 'get' | 'has' | 'put' | 'delete' | 'query' | 'batch'>
  /** Makes every write so far durable (LevelDB: one synced write flushes its log). */
  sync(): Promise<void>
  /** What changes with a user in the same write (their node-wide webhooks, once they are not an admin). */
  changing?: UserChangeHook
}

const PREFIX = '/pinery/auth/user/'
/**
 * `/pinery/auth/removing-user/<name>` → empty: the user is gone but the removal of their tokens and
 * pin requests may not be. Written with the removal of the user, deleted once the rest is done, so a
 * crash midway is finished at the next start instead of leaving requests nobody can see or delete
 * (which a new user of the same name then inherited).
 */
const REMOVING_PREFIX = '/pinery/auth/removing-user/'
const EMPTY = new Uint8Array(0)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

function checkName (name: string): void {
  if (!USER_NAME.test(name)) {
    throw new InvalidRequestError(`user name "${name}" must be 1-64 lowercase letters, digits or '-'`)
  }
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

/** Creates the user store. */
export function createUserStore (components: UserStoreComponents): UserStore {
  const { datastore } = components
  const lock = createKeyedMutex()
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
    const hook = components.changing?.(user)
    const batch = datastore.batch()
    batch.put(new Key(`${PREFIX}${user.name}`), encoder.encode(JSON.stringify(user)))
    for (const op of hook?.extra ?? []) {
      if (op.type === 'put') batch.put(new Key(op.key), op.value)
      else batch.delete(new Key(op.key))
    }
    await batch.commit()
    await components.sync()
    ;(await all()).set(user.name, user)
    await hook?.done()
    return user
  }

  const fresh = (name: string, role: Role): User => ({ name, role, created: new Date().toISOString() })

  return {
    async get (name) {
      return (await all()).get(name)
    },

    async list () {
      return [...(await all()).values()].sort((a, b) => a.name.localeCompare(b.name))
    },

    async create (name, changes = {}) {
      checkName(name)
      if (name === ADMIN_USER && changes.role === 'member') {
        throw new InvalidRequestError('the admin user has the admin role')
      }
      return await lock.run(name, async () => {
        if ((await all()).has(name)) throw new ConflictError(`user ${name} exists already`)
        if (await datastore.has(new Key(`${REMOVING_PREFIX}${name}`))) {
          throw new ConflictError(`user ${name} is still being deleted; try again once that is done`)
        }
        return await save(withChanges(fresh(name, name === ADMIN_USER ? 'admin' : 'member'), changes))
      })
    },

    async ensure (name, role) {
      checkName(name)
      return await lock.run(name, async () => {
        const user = (await all()).get(name)
        if (user == null) return await save(fresh(name, role))
        // The admin user is always an admin, whatever an older version or a mistake stored.
        return name === ADMIN_USER && user.role !== 'admin' ? await save({ ...user, role: 'admin' }) : user
      })
    },

    async update (name, changes) {
      if (name === ADMIN_USER && changes.role === 'member') {
        throw new InvalidRequestError('the admin user keeps the admin role')
      }
      return await lock.run(name, async () => {
        const user = (await all()).get(name)
        if (user == null) throw new NotFoundError(`no user ${name}`)
        return await save(withChanges(user, changes))
      })
    },

    async remove (name) {
      return await lock.run(name, async () => {
        const users = await all()
        if (!users.has(name)) return false
        const batch = datastore.batch()
        batch.delete(new Key(`${PREFIX}${name}`))
        batch.put(new Key(`${REMOVING_PREFIX}${name}`), EMPTY)
        await batch.commit()
        await components.sync()
        users.delete(name)
        return true
      })
    },

    async removing () {
      const names: string[] = []
      for await (const { key } of datastore.query({ prefix: REMOVING_PREFIX })) {
        names.push(key.toString().slice(REMOVING_PREFIX.length))
      }
      return names
    },

    async whileAdmin (name, fn) {
      return await lock.run(name, async () => {
        if ((await all()).get(name)?.role !== 'admin') throw new ForbiddenError(`user ${name} is not an admin`)
        return await fn()
      })
    },

    async removed (name) {
      await lock.run(name, async () => {
        await datastore.delete(new Key(`${REMOVING_PREFIX}${name}`))
        await components.sync()
      })
    }
  }
}
