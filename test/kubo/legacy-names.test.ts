/**
 * `ipfs pin remote ls` (real kubo v0.43.1) of pins named before a new name had to be free of control characters
 * and bidirectional overrides. Earlier rounds noted that kubo printed such a name's escapes raw to the terminal;
 * it does not: kubo writes each character Go's strconv counts unprintable as an escape (`report\x1b[31m-red`,
 * `invoice-\u202egnp.exe`), so neither reaches the terminal as a control. Answering the name written out
 * (`\u{1b}`, as the web app shows it) was tried: kubo then printed `report\\u{1b}[31m-red`, a second notation
 * of a name that no longer matched what the person typed. This guards what kubo prints and that the stored
 * name, as given, still finds the pin.
 */
import { mkdtempSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKubo, type Kubo } from '../fixtures/kubo.js'
import { fileCidOf } from '../fixtures/origin.js'
import { openPinCore } from '../fixtures/pin-core.js'
import { startService, type TestService } from '../fixtures/service.js'

const NAMES = { failed: 'report\u001b[31m-red', queued: 'invoice-\u202egnp.exe' }
/** As kubo prints them (Go's escapes of unprintable characters). */
const PRINTED = { failed: 'report\\x1b[31m-red', queued: 'invoice-\\u202egnp.exe' }

describe('kubo listing a pin named before the name rule', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinery-kubo-legacy-'))
  let service: TestService
  let kubo: Kubo

  beforeAll(async () => {
    const core = await openPinCore({ dir: dataDir })
    try {
      const empty = CID.parse('bafkqaaa')
      await core.lifecycle.create(core.record('alice', empty,
        { status: 'failed', failure: 'stalled', pin: { cid: empty.toString(), name: NAMES.failed } }))
      const missing = await fileCidOf(randomBytes(64)) // no peer has it: it stays queued
      const pin = { cid: missing.toString(), name: NAMES.queued }
      await core.lifecycle.create(core.record('alice', missing, { pin }))
    } finally {
      await core.close()
    }
    service = await startService({ dataDir, users: ['alice'] })
    kubo = await startKubo()
    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'pinery', service.url, service.tokens.alice as string])
  }, 120_000)
  afterAll(async () => {
    await kubo?.stop()
    await service?.destroy()
  })

  it('prints the names with those characters escaped, never raw to the terminal, and finds them by name',
    async () => {
      const args = ['pin', 'remote', 'ls', '--service=pinery', '--status=queued,pinning,failed']
      const out = await kubo.run(args)
      expect(out.code, out.stderr).toBe(0)
      const text = out.stdout.toString()
      expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\u202a-\u202e]/) // eslint-disable-line no-control-regex
      expect(text).toContain(`\t${PRINTED.failed}\n`)
      expect(text).toContain(`\t${PRINTED.queued}\n`)
      const byName = await kubo.ipfs([...args, `--name=${NAMES.queued}`])
      expect(byName.endsWith(`\t${PRINTED.queued}`)).toBe(true)
    })
})
