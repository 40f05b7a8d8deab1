/**
 * A CAR's roots are bounded: each root becomes a request of its own, all made by one HTTP request (the
 * rate limit counts one), and the answer lists them all. A 2 MB header of 150,000 identity-CID roots
 * made 150,000 pinned requests in 109 s and took the service from 296 to 994 MB RSS (four such uploads
 * at once are allowed per user).
 */
import { CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_CAR_ROOTS } from '../../src/content/car.js'
import { startService, type TestService } from '../fixtures/service.js'

/** A CAR of no blocks naming `n` distinct identity CIDs (each carries its bytes) as roots. */
async function rootsCar (n: number, tag: string): Promise<Uint8Array> {
  const roots = Array.from({ length: n }, (_, i) => CID.createV1(raw.code, identity.digest(Buffer.from(`${tag}${i}`))))
  const { writer, out } = CarWriter.create(roots)
  const chunks: Uint8Array[] = []
  const read = (async () => { for await (const c of out) chunks.push(c) })()
  await writer.close()
  await read
  return Buffer.concat(chunks)
}

describe('CAR roots', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService() })
  afterAll(async () => { await svc.destroy() })

  const upload = async (car: Uint8Array): Promise<Response> => await svc.request('/content', {
    method: 'POST', headers: { 'content-type': 'application/vnd.ipld.car' }, body: car
  })
  const requests = async (): Promise<number> =>
    ((await (await svc.request('/usage')).json()) as { pins: { pinned: number } }).pins.pinned

  it('are refused past the bound with 413, before any request is made', async () => {
    const res = await upload(await rootsCar(MAX_CAR_ROOTS + 1, 'a'))
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ error: { reason: 'PAYLOAD_TOO_LARGE', details: /roots/ } })
    expect(await requests()).toBe(0)
  })

  it('are taken up to the bound, one request each', async () => {
    const res = await upload(await rootsCar(MAX_CAR_ROOTS, 'b'))
    expect(res.status).toBe(202)
    expect((await res.json() as { count: number }).count).toBe(MAX_CAR_ROOTS)
    expect(await requests()).toBe(MAX_CAR_ROOTS)
  })
})
