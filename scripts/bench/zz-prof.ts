import { openDatastore } from '../../src/node/storage.js'
import { createRecordStore } from '../../src/pins/record-store.js'
import { createPinIndex } from '../../src/pins/pin-index.js'
const ds = await openDatastore(process.argv[2]!)
const rss0 = process.memoryUsage().rss
let t = performance.now()
const index = createPinIndex()
await createRecordStore({ db: ds.db, index })
console.log('index load s', ((performance.now() - t) / 1000).toFixed(2), 'size', index.size())
globalThis.gc?.()
const m = process.memoryUsage()
console.log('rss above', ((m.rss - rss0) / 2 ** 20).toFixed(0), 'heapUsed', (m.heapUsed / 2 ** 20).toFixed(0), 'ab', (m.arrayBuffers / 2 ** 20).toFixed(0))
t = performance.now()
const records = await createRecordStore({ db: ds.db })
let n = 0
for await (const r of records.pending()) n++
console.log('pending scan s', ((performance.now() - t) / 1000).toFixed(2), n)
await ds.close()
