import { CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as dagCbor from '@ipld/dag-cbor'
import { writeFileSync } from 'node:fs'
const n = Number(process.argv[2]); const width = Number(process.argv[3])
const leaf = CID.parse('bafkqaaa')
const inner = dagCbor.encode(Array(width).fill(leaf))
const bytes = new Uint8Array(n + inner.length); bytes.fill(0x81, 0, n); bytes.set(inner, n)
const cid = CID.createV1(0x71, await sha256.digest(bytes))
const { writer, out } = CarWriter.create([cid])
const chunks = []; const done = (async () => { for await (const c of out) chunks.push(c) })()
await writer.put({ cid, bytes }); await writer.close(); await done
writeFileSync(process.argv[4], Buffer.concat(chunks)); console.log(cid.toString(), bytes.length)
