/**
 * The token store on a real LevelDB with the real user store: a secret
 * authenticates its user until it is revoked, expires, or its user is gone
 * (a new user of the same name does not inherit it); only hashes are
 * stored; an admin demoted keeps tokens without admin rights; the bootstrap
 * token follows PINERY_ADMIN_TOKEN; everything survives a reopen.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { failure } from '../fixtures/errors.js'
import { createTokenStore, createUserStore } from '../../src/auth/index.js'
import { openDatastore, syncDatastore } from '../../src/node/storage.js'
import type { TokenStore, UserStore } from '../../src/auth/index.js'
import type { LevelDatastore } from 'datastore-level'

const unauthorized = (details: RegExp): unknown => failure('UnauthorizedError', details)

describe('token store', () => {
  let dir: string
  let datastore: LevelDatastore
  let users: UserStore
  let tokens: TokenStore

  async function open (): Promise<void> {
    datastore = await openDatastore(dir)
    users = createUserStore({ datastore, sync: syncDatastore(datastore) })
    tokens = createTokenStore({ datastore, users, sync: syncDatastore(datastore) })
  }
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-tokens-'))
    await open()
    await users.create('alice')
  })
  afterEach(async () => {
    await datastore.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('authenticates a secret as its user and token until revoked', async () => {
    const { info, secret } = await tokens.create('alice', { label: 'laptop' })
    expect(secret).toMatch(/^pinery_/)
    expect(await tokens.authenticate(secret)).toEqual({ user: 'alice', tokenId: info.id, scope: info.scope })
    await expect(tokens.authenticate(`${secret}x`)).rejects.toEqual(unauthorized(/unknown or revoked/))
    expect(await tokens.revoke('alice', info.id)).toBe(1)
    // Authenticated (and cached) before: refused all the same.
    await expect(tokens.authenticate(secret)).rejects.toEqual(unauthorized(/unknown or revoked/))
    expect(await tokens.revoke('alice', info.id)).toBe(0)
  })

  it('stores no secret, only its hash', async () => {
    const { secret } = await tokens.create('alice')
    const needle = Buffer.from(secret.slice('pinery_'.length))
    for await (const { key, value } of datastore.query({})) {
      expect(key.toString()).not.toContain(secret)
      expect(Buffer.from(value).includes(needle)).toBe(false)
    }
  })

  it('lists a user\'s tokens oldest first, with when each was last used', async () => {
    const first = await tokens.create('alice', { label: 'one' })
    const second = await tokens.create('alice', { label: 'two' })
    await tokens.authenticate(second.secret)
    const listed = await tokens.list('alice')
    expect(listed.map(t => t.label)).toEqual(['one', 'two'])
    expect(listed[0]).not.toHaveProperty('lastUsed')
    expect(listed[1]?.lastUsed).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/)
    expect(JSON.stringify(listed)).not.toContain(first.secret)
    expect(listed.some(t => 'hash' in t)).toBe(false)
  })

  it('revokes all of a user\'s tokens and no one else\'s', async () => {
    await users.create('bob')
    const mine = await Promise.all([tokens.create('alice'), tokens.create('alice')])
    const theirs = await tokens.create('bob')
    expect(await tokens.revokeAll('alice')).toBe(2)
    for (const { secret } of mine) {
      await expect(tokens.authenticate(secret)).rejects.toEqual(unauthorized(/unknown or revoked/))
    }
    expect((await tokens.authenticate(theirs.secret)).user).toBe('bob')
    expect(await tokens.list('alice')).toEqual([])
  })

  it('refuses expired tokens, and an expiry in the past', async () => {
    const past = new Date(Date.now() - 1000)
    await expect(tokens.create('alice', { expires: past })).rejects.toMatchObject({ name: 'InvalidRequestError' })
    const { secret } = await tokens.create('alice', { expires: new Date(Date.now() + 150) })
    expect((await tokens.authenticate(secret)).user).toBe('alice')
    await new Promise(resolve => setTimeout(resolve, 200))
    await expect(tokens.authenticate(secret)).rejects.toEqual(unauthorized(/expired/))
  })

  it('creates tokens only for users that exist, and admin ones only for admins', async () => {
    await expect(tokens.create('nobody')).rejects.toMatchObject({ name: 'NotFoundError' })
    await expect(tokens.create('alice', { scope: 'admin' })).rejects.toMatchObject({ name: 'InvalidRequestError' })
  })

  it('stops a token of a deleted user, even for a new user of the same name', async () => {
    const { secret } = await tokens.create('alice')
    await users.remove('alice')
    await expect(tokens.authenticate(secret)).rejects.toEqual(unauthorized(/unknown or revoked/))
    // The deletion declared complete without revoking the token: the name may be taken again.
    await users.removed('alice')
    await users.create('alice')
    await expect(tokens.authenticate(secret)).rejects.toEqual(unauthorized(/unknown or revoked/))
  })

  it('takes the admin scope away from the tokens of an admin who is demoted', async () => {
    await users.create('carol', { role: 'admin' })
    const { secret } = await tokens.create('carol', { scope: 'admin' })
    expect((await tokens.authenticate(secret)).scope).toBe('admin')
    await users.update('carol', { role: 'member' })
    expect((await tokens.authenticate(secret)).scope).not.toBe('admin')
    expect((await tokens.list('carol'))[0]?.scope).not.toBe('admin')
  })

  it('keeps the bootstrap token in step with the configured secret', async () => {
    const first = await tokens.bootstrapAdmin(undefined)
    expect(first.generated).toMatch(/^pinery_/)
    const generated = first.generated as string
    expect(await tokens.authenticate(generated)).toMatchObject({ user: 'admin', tokenId: 'bootstrap', scope: 'admin' })
    // Nothing configured and one exists: kept, nothing new shown.
    expect(await tokens.bootstrapAdmin(undefined)).toEqual({})
    // A configured secret replaces it.
    expect(await tokens.bootstrapAdmin('pinery_configured')).toEqual({})
    await expect(tokens.authenticate(generated)).rejects.toEqual(unauthorized(/unknown or revoked/))
    expect((await tokens.authenticate('pinery_configured')).user).toBe('admin')
    expect(await tokens.bootstrapAdmin('pinery_configured')).toEqual({})
    expect((await tokens.list('admin')).map(t => t.id)).toEqual(['bootstrap'])
  })

  it('keeps tokens and revocations across a reopen', async () => {
    const kept = await tokens.create('alice')
    const revoked = await tokens.create('alice')
    await tokens.revoke('alice', revoked.info.id)
    await datastore.close()
    await open()
    expect((await tokens.authenticate(kept.secret)).tokenId).toBe(kept.info.id)
    await expect(tokens.authenticate(revoked.secret)).rejects.toEqual(unauthorized(/unknown or revoked/))
  })
})
