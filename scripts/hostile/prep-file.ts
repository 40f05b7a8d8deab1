/** Writes FILE of N MiB random bytes and FILE.cids (leaf CIDs, as Pinery's import makes them); prints the root. */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { KUBO_IMPORT_OPTIONS } from '../../src/content/unixfs-import.js'

const [file, mib] = process.argv.slice(2)
const bytes = randomBytes(Number(mib) * 1024 * 1024)
writeFileSync(file as string, bytes)
const leaves: string[] = []
const bs = new MemoryBlockstore()
const store = {
  put: async (cid: any, b: Uint8Array) => {
    if (cid.code === 0x55) leaves.push(cid.toString())
    return await bs.put(cid, b)
  }
}
let root = ''
for await (const e of importer([{ content: bytes }], store as any, KUBO_IMPORT_OPTIONS)) root = e.cid.toString()
writeFileSync(`${file as string}.cids`, leaves.join('\n') + '\n')
console.log(root, leaves.length)
