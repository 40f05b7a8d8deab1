/**
 * The words of a request's origin notes: one line per origin that matters, the others of a connected peer
 * left out, the whole bounded however many and however long the origins; and durations as a person reads them.
 */
import { describe, expect, it } from 'vitest'
import { createOriginNotes, shortOrigin } from '../../src/pins/origin-notes.js'
import { duration } from '../../src/pins/shared-fetch.js'

const PEER = '12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk'
const OTHER = '12D3KooWPQznegbsrcNGLWnMEPjBLSDyJBLbsQtZ6quAHBCtHViv'

describe('origin notes', () => {
  it('say each origin once, leave out the failed addresses of a peer that connected, and stay short', () => {
    const notes = createOriginNotes()
    notes.set(`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, { kind: 'denied', rule: 'loopback address' })
    notes.set(`/ip4/203.0.113.5/tcp/4001/p2p/${PEER}`, { kind: 'connected' })
    notes.set(`/ip4/203.0.113.6/tcp/4001/p2p/${PEER}`, { kind: 'connected' })
    notes.set(`/ip4/203.0.113.7/tcp/4001/p2p/${OTHER}`, { kind: 'timeout' })
    expect(notes.describe(true)).toBe('origin peer 12D3KooW…ikDk: connected, no block from it yet; ' +
      'origin /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…HViv: no answer (timed out)')
    expect(notes.describe(false)).toBe('origin /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…HViv: no answer (timed out)')

    const many = createOriginNotes()
    for (let i = 0; i < 20; i++) {
      many.set(`/dns4/${'a'.repeat(200)}${i}.example/tcp/4001/p2p/${PEER}`, { kind: 'refused' })
    }
    const said = many.describe(true) ?? ''
    expect(said.length).toBeLessThan(420)
    expect(said).toMatch(/; 1[0-9] more origins$/)
    expect(shortOrigin(`/dns4/${'a'.repeat(200)}.example/tcp/4001/p2p/${PEER}`).length).toBeLessThanOrEqual(90)
  })

  it('say nothing about origins that only connect or dial while blocks arrive', () => {
    const notes = createOriginNotes()
    notes.set(`/ip4/203.0.113.5/tcp/4001/p2p/${PEER}`, { kind: 'connected' })
    notes.set(`/ip4/203.0.113.7/tcp/4001/p2p/${OTHER}`, { kind: 'dialing' })
    expect(notes.describe(false)).toBeUndefined()
    const quic = createOriginNotes()
    quic.noneDialable()
    expect(quic.describe(false)).toBe('no origin is a plain TCP address, the one transport Pinery dials')
  })

  it('durations read as a person says them', () => {
    expect([500, 4000, 90_000, 60_000, 120_000].map(duration))
      .toEqual(['500 ms', '4 s', '90 s', '1 minute', '2 minutes'])
  })
})
