/**
 * Human-readable output of the CLI: aligned tables and sizes in binary units.
 */
import type { TokenInfo } from '../auth/index.js'
import type { Limits } from '../pins/quota.js'
import type { DeletedUser, TeamUsage, Usage, UserView } from '../team/index.js'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB". */
export function formatBytes (bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit++ }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '')} ${UNITS[unit]}`
}

/** "10GiB" or "10G" (binary), "1.5 MB" (decimal), "4096" → bytes; undefined when it is not a size. */
export function parseBytes (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(i)?)?(b)?$/i.exec(text.trim())
  if (m == null) return undefined
  const power = m[2] == null ? 0 : 'kmgtp'.indexOf(m[2].toLowerCase()) + 1
  // Only "kB", "MB", … are decimal; "KiB" and a bare "K" are binary.
  const base = m[3] == null && m[4] != null ? 1000 : 1024
  const bytes = Math.round(Number(m[1]) * base ** power)
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  return [header, ...rows].map(r => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n'
}

const limitsText = (limits: Limits): string =>
  limits.bytes == null && limits.pins == null
    ? 'unlimited'
    : [limits.bytes != null ? formatBytes(limits.bytes) : undefined, limits.pins != null ? `${limits.pins} pins` : undefined].filter(Boolean).join(', ')

const live = (u: Usage): number => u.pins.queued + u.pins.pinning + u.pins.pinned

/** Users with their usage. */
export function usersText (users: UserView[]): string {
  return table(['NAME', 'ROLE', 'PINS', 'PINNED', 'QUOTA', 'CREATED'],
    users.map(u => [u.name, u.role, String(live(u.usage)), formatBytes(u.usage.bytes), limitsText(u.quota ?? {}), u.created]))
}

/** One user in detail. */
export function userText (user: UserView): string {
  return `${user.name} (${user.role}), created ${user.created}\n` + usageText(user.usage)
}

/** One user's usage. */
export function usageText (u: Usage): string {
  const { queued, pinning, pinned, failed } = u.pins
  return `  pins: ${pinned} pinned, ${queued} queued, ${pinning} pinning, ${failed} failed\n` +
    `  pinned: ${formatBytes(u.bytes)} in ${u.cids} distinct CIDs\n` +
    `  quota: ${limitsText(u.limits)}\n`
}

/** Every user's usage and the node's totals. */
export function teamUsageText (usage: TeamUsage): string {
  return table(['USER', 'PINS', 'FAILED', 'PINNED', 'QUOTA'],
    usage.users.map(u => [u.user, String(live(u)), String(u.pins.failed), formatBytes(u.bytes), limitsText(u.limits)])) +
    `\nnode: ${usage.node.blocks} blocks, ${formatBytes(usage.node.bytes)} on disk\n`
}

/** A user's tokens (never secrets: the service has none to show). */
export function tokensText (tokens: TokenInfo[]): string {
  return table(['ID', 'LABEL', 'SCOPE', 'CREATED', 'LAST USED', 'EXPIRES'],
    tokens.map(t => [t.id, t.label ?? '', t.scope, t.created, t.lastUsed ?? 'never', t.expires ?? 'never']))
}

/** What a user deletion removed. */
export function deletedText (name: string, d: DeletedUser): string {
  return `deleted user ${name}: ${d.removedPins} pin requests removed, ${d.revokedTokens} tokens revoked\n`
}
