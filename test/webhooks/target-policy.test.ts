/**
 * Where webhooks may point: loopback, private, link-local, shared, multicast
 * and reserved addresses and the node's own are refused unless allowed, also
 * when written as IPv4-mapped IPv6, and a name is checked by every address it
 * resolves to, at the moment of connecting.
 */
import { networkInterfaces } from 'node:os'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createTargetPolicy } from '../../src/webhooks/target-policy.js'

const lookup = async (policy: ReturnType<typeof createTargetPolicy>, host: string): Promise<string> =>
  await new Promise((resolve, reject) => {
    policy.lookup(host, {}, (err, address) => { if (err != null) reject(err); else resolve(address as string) })
  })

describe('webhook target policy', () => {
  const policy = createTargetPolicy({ allow: [] })

  it('refuses loopback, private, link-local and other special addresses', () => {
    const special = [
      '127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
      '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1',
      '::ffff:a9fe:a9fe'
    ]
    for (const a of special) {
      expect(policy.refusal(a, a), a).toBeDefined()
    }
    expect(policy.refusal('169.254.169.254', '169.254.169.254')).toMatch(/link-local/)
    for (const a of ['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111', '::ffff:1.1.1.1']) {
      expect(policy.refusal(a, a), a).toBeUndefined()
    }
  })

  it('refuses the IPv6 forms the dial gate refuses: embedded IPv4, local-use NAT64, site-local', () => {
    // ::/96 (IPv4-compatible), ::ffff:0:0/96 (IPv4-translated) and 6to4 (2002::/16) carry an IPv4 address a
    // host with those mechanisms reaches; local-use NAT64 translates into whatever the local network chose.
    const refused = [
      '::7f00:1', '::a00:1', '::ffff:0:7f00:1', '::ffff:0:a9fe:a9fe', '2002:7f00:1::', '2002:a00:1::1',
      '2002:c0a8:101::', '64:ff9b:1::7f00:1', '64:ff9b:1:ffff::1', 'fec0::1'
    ]
    for (const a of refused) expect(policy.refusal(a, a), a).toBeDefined()
    // The public addresses inside the same forms stay open.
    for (const a of ['2002:101:101::1', '::ffff:0:101:101']) expect(policy.refusal(a, a), a).toBeUndefined()
  })

  it('refuses every address of the node itself', () => {
    const own = Object.values(networkInterfaces()).flatMap(list => list ?? []).map(i => i.address)
    for (const a of own) expect(policy.refusal(a, a), a).toBeDefined()
    expect(createTargetPolicy({ allow: [], ownAddresses: ['203.0.113.7'] }).refusal('x', '203.0.113.7'))
      .toMatch(/this node/)
  })

  it('opens chosen hosts and CIDRs', () => {
    const open = createTargetPolicy({ allow: ['10.0.0.0/8', '127.0.0.1', 'hooks.internal', 'fd00::/8'] })
    expect(open.refusal('10.9.9.9', '10.9.9.9')).toBeUndefined()
    expect(open.refusal('127.0.0.1', '127.0.0.1')).toBeUndefined()
    expect(open.refusal('127.0.0.2', '127.0.0.2')).toBeDefined()
    expect(open.refusal('hooks.internal', '192.168.3.3')).toBeUndefined()
    expect(open.refusal('other.internal', '192.168.3.3')).toBeDefined()
    expect(open.refusal('fd12::1', 'fd12::1')).toBeUndefined()
    expect(() => createTargetPolicy({ allow: ['10.0.0.0/99'] })).toThrow(/prefix/)
    expect(() => loadConfig({ PINERY_WEBHOOK_ALLOW: 'not a host!' })).toThrow(/PINERY_WEBHOOK_ALLOW/)
  })

  it('checks what a name resolves to when connecting, and connects to the checked address', async () => {
    await expect(lookup(policy, 'localhost')).rejects.toThrow(/may not target localhost: .*loopback/)
    // What an internal name resolves to is not told: no oracle of the operator's DNS for a member.
    const told = await lookup(policy, 'localhost').then(() => '', (err: Error) => err.message)
    expect(told).toBe('webhooks may not target localhost: it resolves to a loopback address ' +
      '(PINERY_WEBHOOK_ALLOW can open it)')
    expect(await lookup(createTargetPolicy({ allow: ['127.0.0.1'] }), 'localhost')).toBe('127.0.0.1')
    expect(await lookup(createTargetPolicy({ allow: ['localhost'] }), 'localhost')).toMatch(/^(127\.0\.0\.1|::1)$/)
  })

  it('says in words why a name cannot be resolved, not with the resolver\'s code', async () => {
    await expect(policy.check(new URL('https://no-such-host.invalid/hook')))
      .rejects.toThrow('url: cannot resolve no-such-host.invalid: no such host name (check the spelling)')
  })

  it('accepts only http and https URLs without credentials', () => {
    expect(policy.parseUrl('https://example.com/hook').href).toBe('https://example.com/hook')
    for (const bad of ['ftp://example.com/', 'file:///etc/passwd', 'not a url', 'http://user:pw@example.com/']) {
      expect(() => policy.parseUrl(bad), bad).toThrow()
    }
  })
})
