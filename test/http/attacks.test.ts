/**
 * What one hostile client can make a running service do with a small request: each case here
 * once cost memory, CPU or time far beyond the bytes the attacker sent, and is now refused with
 * a 4xx Failure (or cut short) at a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failureOf } from '../fixtures/content.js'
import { startService, type TestService } from '../fixtures/service.js'

describe('attacks', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'], env: { PINERY_GC_INTERVAL_MS: '3600000' } }) })
  afterAll(async () => { await svc.destroy() })

  it('a form whose deep paths imply too many directories is refused with 400 (was ~1 MB of memory per 4 KB part)', async () => {
    // Each part names 255 directories of its own: a 4 KB header that once cost ~1 MB in the path registry
    // and ~0.7 MB in the importer (a 4 MB form: 1.5 GB RSS, 42 s).
    const boundary = 'deep-paths'
    const parts = 80 // 20,400 directories
    let body = ''
    for (let i = 0; i < parts; i++) {
      const name = `p${i}${'a'.repeat(3500)}${'/b'.repeat(255)}`
      body += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\nz\r\n`
    }
    body += `--${boundary}--\r\n`
    const res = await svc.request('/content', {
      method: 'POST', user: 'alice', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }
    })
    expect(await failureOf(res)).toMatchObject({
      status: 400, details: expect.stringContaining('more than 20000 directories')
    })
  })
})
