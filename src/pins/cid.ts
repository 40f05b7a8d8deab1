/**
 * CID parsing for requests: any version and any multibase that multiformats
 * knows, limited to the codecs and hashes Pinery can walk and verify.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import * as json from 'multiformats/codecs/json'
import * as raw from 'multiformats/codecs/raw'
import { equals } from 'uint8arrays/equals'
import { blockDigest, type BlockBytes } from '../node/block-bytes.js'
import type { MultibaseDecoder } from 'multiformats/bases/interface'

/** Codecs whose links Pinery can follow. */
export const SUPPORTED_CODECS = new Map<number, string>([
  [dagPb.code, 'dag-pb'], [raw.code, 'raw'], [dagCbor.code, 'dag-cbor'], [dagJson.code, 'dag-json'], [json.code, 'json']
])

/**
 * The identity multihash code: such a CID carries its block in itself, so it
 * is never fetched, stored or written into a CAR.
 */
export const IDENTITY = 0x00

/** Hashes Pinery can verify blocks with: identity, sha2-256, sha2-512. */
export const SUPPORTED_HASHES = new Map<number, string>([
  [IDENTITY, 'identity'], [0x12, 'sha2-256'], [0x13, 'sha2-512']
])

/**
 * Whether `bytes` (whole, or the pieces it arrived in) hash to `cid`'s multihash; false for a hash
 * Pinery cannot verify. For blocks read back from disk that nothing verified since they were written.
 */
export function blockMatches (cid: CID, bytes: BlockBytes): boolean {
  const { code, digest } = cid.multihash
  const actual = blockDigest(code, digest.byteLength, bytes)
  return actual != null && equals(actual, digest)
}

/** Why Pinery cannot walk or verify `cid` (its codec or hash), or undefined when it can. */
export function unsupported (cid: CID): string | undefined {
  const refuse = (what: string, code: number, known: Map<number, string>): string =>
    `uses ${what} 0x${code.toString(16)}, which is not supported (${[...known.values()].join(', ')})`
  if (!SUPPORTED_CODECS.has(cid.code)) return refuse('codec', cid.code, SUPPORTED_CODECS)
  if (!SUPPORTED_HASHES.has(cid.multihash.code)) return refuse('hash', cid.multihash.code, SUPPORTED_HASHES)
  return undefined
}

const byPrefix = new Map(Object.values(bases).map(b => [b.prefix as string, b.decoder as MultibaseDecoder<string>]))

/** Decodes a string in whichever multibase its prefix names. */
const anyBase: MultibaseDecoder<string> = {
  decode (text: string): Uint8Array<ArrayBuffer> {
    const decoder = byPrefix.get(text[0] ?? '')
    if (decoder == null) throw new Error(`unknown multibase prefix "${text[0] ?? ''}"`)
    return decoder.decode(text)
  }
}

/** Parses a CID string; throws an Error saying what is wrong with it. */
export function parseCid (value: string): CID {
  let cid: CID
  try {
    cid = value.startsWith('Q') || value.startsWith('1') ? CID.parse(value) : CID.parse(value, anyBase)
  } catch (err) {
    // The decoder's own words ("Non-base32z character") name a base the sender never chose: say what a CID
    // looks like first.
    throw new Error(`"${value}" is not a valid CID (a CID looks like bafy… or Qm…): ${(err as Error).message}`)
  }
  const why = unsupported(cid)
  if (why != null) throw new Error(`CID ${value} ${why}`)
  return cid
}
