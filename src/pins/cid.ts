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
import type { MultibaseDecoder } from 'multiformats/bases/interface'

/** Codecs whose links Pinery can follow. */
export const SUPPORTED_CODECS = new Map<number, string>([
  [dagPb.code, 'dag-pb'], [raw.code, 'raw'], [dagCbor.code, 'dag-cbor'], [dagJson.code, 'dag-json'], [json.code, 'json']
])

/** Hashes Pinery can verify blocks with: identity, sha2-256, sha2-512. */
export const SUPPORTED_HASHES = new Map<number, string>([[0x00, 'identity'], [0x12, 'sha2-256'], [0x13, 'sha2-512']])

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
    throw new Error(`"${value}" is not a valid CID: ${(err as Error).message}`)
  }
  if (!SUPPORTED_CODECS.has(cid.code)) {
    const supported = [...SUPPORTED_CODECS.values()].join(', ')
    throw new Error(`CID ${value} uses codec 0x${cid.code.toString(16)}, which is not supported (${supported})`)
  }
  if (!SUPPORTED_HASHES.has(cid.multihash.code)) {
    const supported = [...SUPPORTED_HASHES.values()].join(', ')
    const code = cid.multihash.code.toString(16)
    throw new Error(`CID ${value} uses hash 0x${code}, which is not supported (${supported})`)
  }
  return cid
}
