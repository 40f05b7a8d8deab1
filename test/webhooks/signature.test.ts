/**
 * The webhook signature is HMAC-SHA256 built from two one-shot hashes over a key prepared once
 * (deliver.ts): it must equal node:crypto's own HMAC for every key length (the block size and past it, where
 * RFC 2104 hashes the key first) and body length (the key's room for the body grows), in any order.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signature, signingKey } from '../../src/webhooks/deliver.js'

const reference = (secret: string, body: Uint8Array, t: number): string =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`

describe('webhook signatures', () => {
  it('equal createHmac\'s for keys and bodies of every size, signed one after another with one key', () => {
    const secrets = ['', 'k', 'whsec_' + randomBytes(32).toString('base64url'), 'x'.repeat(63), 'y'.repeat(64),
      'z'.repeat(65), 'é'.repeat(40), randomBytes(150).toString('hex')]
    const sizes = [0, 1, 63, 64, 65, 600, 2047, 2048, 5000, 100, 70_000, 3]
    for (const secret of secrets) {
      const key = signingKey(secret)
      for (const size of sizes) {
        const body = randomBytes(size)
        for (const t of [0, 9, 1764547200, 99_999_999_999]) {
          expect(signature(key, body, t)).toBe(reference(secret, body, t))
        }
      }
    }
  })
})
