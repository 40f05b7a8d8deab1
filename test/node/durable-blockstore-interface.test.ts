/**
 * The durable blockstore passes interface-blockstore-tests, the suite every
 * js-stores blockstore runs (put/get/has/delete, their many-variants, abort
 * signals, missing keys). Its own file: the suite brings chai plugins
 * (aegir/chai, see test/fixtures/aegir-chai) that would change how vitest's
 * `expect` treats promises in the tests next to it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { interfaceBlockstoreTests } from 'interface-blockstore-tests'
import { afterEach, beforeEach, describe, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'

// The suite is written for mocha and calls these as globals.
Object.assign(globalThis, { describe, it, beforeEach, afterEach })

describe('DurableFsBlockstore: interface-blockstore compliance', () => {
  const dirs = new Map<unknown, string>()
  interfaceBlockstoreTests({
    async setup () {
      const dir = await mkdtemp(join(tmpdir(), 'pinery-durable-suite-'))
      const store = new DurableFsBlockstore(join(dir, 'blocks'))
      await store.open()
      dirs.set(store, dir)
      return store
    },
    async teardown (store) {
      await store.close()
      await rm(dirs.get(store) ?? '', { recursive: true, force: true })
      dirs.delete(store)
    }
  })
})
