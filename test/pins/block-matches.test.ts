/**
 * blockMatches: the check a stored block passes before a network pin trusts it
 * (test/pins/torn-blocks.test.ts has the end-to-end case).
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { blockMatches } from '../../src/pins/cid.js'

describe('blockMatches', () => {
  const bytes = randomBytes(3000)

  it('accepts the block whole or in pieces, for sha2-256, sha2-512 and identity', async () => {
    for (const hasher of [sha256, sha512]) {
      const cid = CID.createV1(raw.code, await hasher.digest(bytes))
      expect(blockMatches(cid, bytes)).toBe(true)
      expect(blockMatches(cid, [bytes.subarray(0, 7), bytes.subarray(7, 7), bytes.subarray(7)])).toBe(true)
    }
    expect(blockMatches(CID.createV1(raw.code, identity.digest(bytes.subarray(0, 20))), bytes.subarray(0, 20)))
      .toBe(true)
  })

  it('refuses an empty, short or changed block, and a hash it cannot verify', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    expect(blockMatches(cid, new Uint8Array(0))).toBe(false)
    expect(blockMatches(cid, bytes.subarray(0, 1000))).toBe(false)
    const changed = Uint8Array.from(bytes)
    changed[2999] = (changed[2999] as number) ^ 1
    expect(blockMatches(cid, changed)).toBe(false)
    expect(blockMatches(CID.createV1(raw.code, identity.digest(bytes.subarray(0, 20))), bytes.subarray(0, 19)))
      .toBe(false)
    const blake = CID.parse('bafk2bzacedvdsrpfgdlppsr4ipdkwvvg4ffxtldbwuuchnzq6yeljhvfgjugy')
    expect(blockMatches(blake, bytes)).toBe(false)
  })
})
