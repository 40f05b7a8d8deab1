/**
 * The hand-written wantlist reader against protons' codec of message.proto: every wantlist protons
 * encodes reads back as protons decodes it (fields, `full`, the want key of each CID), a wantlist cut
 * anywhere or broken is refused exactly when protons refuses it, varints past ten bytes or lengths past
 * the end are refused, and more entries than the limit are refused as protons' `limits` did.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create } from 'multiformats/hashes/digest'
import { Wantlist, WantType, type WantlistEntry } from '../../src/node/lean-bitswap/message.js'
import { BadMessageError } from '../../src/node/lean-bitswap/receive.js'
import { MAX_WANT_CID_BYTES, WantlistReader } from '../../src/node/lean-bitswap/wantlist-reader.js'
import { wantKey } from '../../src/node/lean-bitswap/wire.js'

interface Entry { key?: string, cid: number[], cancel: boolean, have: boolean, dontHave: boolean }
interface Read { full: boolean, entries: Entry[] }

/** `bytes` cut at `cuts` into views (as a wantlist that arrived over several chunks). */
function cut (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [0, ...cuts.filter(c => c > 0 && c < bytes.byteLength), bytes.byteLength]
  return at.slice(1).map((end, i) => bytes.subarray(at[i], end))
}

/** Ways to cut `bytes`: whole, in one-byte pieces, and in two at every `step`th offset. */
function cuts (bytes: Uint8Array, step = 1): Uint8Array[][] {
  const n = bytes.byteLength
  return [[bytes], cut(bytes, Array.from({ length: n }, (_, i) => i)),
    ...Array.from({ length: Math.ceil(n / step) }, (_, i) => cut(bytes, [i * step]))]
}

function readAll (bytes: Uint8Array | Uint8Array[], max = 1_000_000): Read {
  const reader = new WantlistReader(bytes, max)
  const entries: Read['entries'] = []
  while (reader.next()) {
    entries.push({
      key: reader.key(), cid: [...reader.cid()], cancel: reader.cancel, have: reader.have, dontHave: reader.sendDontHave
    })
  }
  expect(entries).toHaveLength(reader.count)
  return { full: reader.full, entries }
}

/** What the reader must give, from protons' decoding: the key only for a CID that decodes. */
function expected (bytes: Uint8Array): Read {
  const list = Wantlist.decode(bytes)
  return {
    full: list.full === true,
    entries: list.entries.map((e: WantlistEntry) => {
      let key: string | undefined
      try { key = wantKey(CID.decode(e.cid).multihash.bytes) } catch {}
      const have = e.wantType === WantType.Have
      return { key, cid: [...e.cid], cancel: e.cancel === true, have, dontHave: e.sendDontHave === true }
    })
  }
}

const cids = [
  CID.createV1(raw.code, create(0x12, randomBytes(32))).bytes,
  CID.createV1(0x71, create(0xb220, randomBytes(32))).bytes, // dag-cbor, blake2b-256: two-byte varints
  CID.createV0(create(0x12, randomBytes(32))).bytes,
  CID.createV1(raw.code, create(0x00, randomBytes(5))).bytes, // identity
  randomBytes(40), // no CID
  new Uint8Array([1, 0x55, 0x12, 0x20, 1, 2, 3]), // a multihash cut short
  new Uint8Array([0x12, 0x20, 1]),
  new Uint8Array(0)
]

function someEntries (n: number, seed: number): Array<Partial<WantlistEntry>> {
  return Array.from({ length: n }, (_, i) => {
    const k = (i * 7 + seed) % 11
    return {
      cid: cids[(i + seed) % cids.length] as Uint8Array,
      priority: [1, 0, -1, 2 ** 31 - 1, -(2 ** 31)][k % 5] as number,
      ...(k % 3 === 0 ? { cancel: k % 2 === 0 } : {}),
      ...(k % 4 !== 0 ? { wantType: k % 2 === 0 ? WantType.Have : WantType.Block } : {}),
      ...(k % 5 !== 1 ? { sendDontHave: k % 3 === 1 } : {})
    }
  })
}

describe('wantlist reader', () => {
  it('reads what protons encodes as protons decodes it', () => {
    for (const [n, full] of [[0, true], [1, false], [17, true], [200, false]] as const) {
      const bytes = Wantlist.encode({ full, entries: someEntries(n, n) as WantlistEntry[] })
      expect(readAll(bytes)).toEqual(expected(bytes))
    }
    // Read where it lies, cut anywhere into pieces.
    const spread = Wantlist.encode({ full: true, entries: someEntries(17, 5) as WantlistEntry[] })
    for (const pieces of cuts(spread)) expect(readAll(pieces)).toEqual(expected(spread))
    // Fields in any order, repeated (the last counts), unknown ones of every wire type skipped.
    const entry = [0x18, 1, 0x0a, 2, 9, 9, 0x20, 1, 0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 34,
      ...(cids[2] as Uint8Array), 0x18, 0, 0x65, 1, 2, 3, 4, 0x28, 1]
    const bytes = new Uint8Array([0x10, 1, 0x1a, 1, 7, 0x0a, entry.length, ...entry, 0x10, 0])
    expect(readAll(bytes)).toEqual(expected(bytes))
    expect(readAll(bytes).entries[0]?.key).toBe(wantKey(CID.decode(cids[2] as Uint8Array).multihash.bytes))
  })

  it('refuses a wantlist cut anywhere or broken exactly when protons does', () => {
    const whole = Wantlist.encode({ full: true, entries: someEntries(12, 3) as WantlistEntry[] })
    const broken = [
      ...Array.from({ length: whole.byteLength }, (_, i) => whole.subarray(0, i)),
      new Uint8Array([0x0a, 0x05, 0x0a, 0x01]), // an entry past the end
      new Uint8Array([0x0a, 0x02, 0x0a, 0x05]), // a CID past its entry
      new Uint8Array([0x0b]), // a group (wire type 3)
      new Uint8Array([0x0a, 0x02, 0x20, 0x07]), // no such want type
      new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // a 10-byte length
      new Uint8Array([0x10, ...new Array<number>(10).fill(0xff), 0x01]), // an 11-byte varint
      new Uint8Array([0x0a, 0x0b, 0x10, ...new Array<number>(9).fill(0xff), 0x01]) // a priority of 10 bytes: fine
    ]
    for (const bytes of broken) {
      let theirs: Read | Error
      try { theirs = expected(bytes) } catch (err) { theirs = err as Error }
      for (const pieces of cuts(bytes, 7)) {
        if (theirs instanceof Error) {
          expect(() => readAll(pieces), `${[...bytes]}`).toThrow(BadMessageError)
        } else {
          expect(readAll(pieces), `${[...bytes]}`).toEqual(theirs)
        }
      }
    }
  })

  it('refuses more entries than its limit, as protons limits did', () => {
    const bytes = Wantlist.encode({ entries: someEntries(101, 0) as WantlistEntry[] })
    expect(() => new WantlistReader(bytes, 100)).toThrow(BadMessageError)
    expect(() => Wantlist.decode(bytes, { limits: { entries: 100 } })).toThrow()
    expect(new WantlistReader(bytes, 101).count).toBe(101)
    // Two bytes an entry is the least (an empty one): a 4 MiB wantlist of them is refused on counting.
    expect(() => new WantlistReader(new Uint8Array(4 * 2 ** 20).fill(0x0a).map((b, i) => i % 2 === 0 ? b : 0), 100_000))
      .toThrow(BadMessageError)
  })

  it('names no want by a CID longer than MAX_WANT_CID_BYTES, which it skips unread', () => {
    const long = CID.createV1(raw.code, create(0x00, randomBytes(MAX_WANT_CID_BYTES))).bytes
    const entries = [{ cid: long, priority: 1 }, { cid: cids[0] as Uint8Array, priority: 1 }]
    const bytes = Wantlist.encode({ entries })
    for (const pieces of [[bytes], cut(bytes, [100])]) {
      const reader = new WantlistReader(pieces, 10)
      expect(reader.next()).toBe(true)
      expect(reader.key()).toBeUndefined()
      expect(reader.cid().byteLength).toBe(0)
      expect(reader.next()).toBe(true)
      expect(reader.key()).toBe(wantKey(CID.decode(cids[0] as Uint8Array).multihash.bytes))
    }
  })

  it('copies a CID out: a kept want does not hold the message', () => {
    const bytes = Wantlist.encode({ entries: [{ cid: cids[0] as Uint8Array, priority: 1 }] })
    const reader = new WantlistReader(bytes, 10)
    expect(reader.next()).toBe(true)
    expect(reader.cid().buffer).not.toBe(bytes.buffer)
    expect(reader.cid().buffer.byteLength).toBe((cids[0] as Uint8Array).byteLength)
  })
})
