/**
 * Hand-made bitswap messages for the attacks in this folder and their tests: a want of a random CID,
 * and a wantlist padded with a field Wantlist does not have (any decoder skips it, but it is received,
 * framed and copied like the rest of the message).
 */
import { randomBytes } from 'node:crypto'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create } from 'multiformats/hashes/digest'
import { Wantlist, WantType, type WantlistEntry } from '../../src/node/lean-bitswap/message.js'

/** A want-have of a random (absent) raw CID that asks for DONT_HAVE. */
export function randomWant (): WantlistEntry {
  const cid = CID.createV1(raw.code, create(0x12, randomBytes(32))).bytes
  return { cid, priority: 1, wantType: WantType.Have, sendDontHave: true }
}

const lengthOf = (n: number): Uint8Array => varint.encodeTo(n, new Uint8Array(varint.encodingLength(n)))

/** A length-delimited protobuf field. */
function field (tag: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.of(tag), lengthOf(body.byteLength), body])
}

/** One framed message (length prefix, then the Message) whose wantlist is `entries` and `padding` bytes of field 3. */
export function paddedWantlist (entries: WantlistEntry[], padding: number): Uint8Array[] {
  const message = field(0x0a, Buffer.concat([Wantlist.encode({ entries }), field(0x1a, new Uint8Array(padding))]))
  return [lengthOf(message.byteLength), message]
}
