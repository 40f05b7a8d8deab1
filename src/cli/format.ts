/**
 * Human-readable output of the CLI: aligned tables and sizes in binary units.
 * Everything printed from stored data passes through {@link printable}: a
 * label written by an older version (or straight into the datastore) may
 * hold terminal escape sequences.
 */
import { counted } from '../counted.js'
import type { TokenInfo } from '../auth/index.js'
import type { Limits } from '../pins/quota.js'
import type { DeletedUser, TeamUsage, Usage, UserView } from '../team/index.js'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

// Control (C0, DEL, C1), format (bidi overrides, zero-width), line/paragraph separators, surrogates, private use.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}]/gu

/** `text` with every control or invisible formatting character shown as an escape (`\x1b`, `\u202e`). */
export function printable (text: string): string {
  return text.replace(UNPRINTABLE, c => {
    const code = c.codePointAt(0) as number
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/**
 * Text for a terminal, line by line through {@link printable}: the last guard for what a command prints,
 * so that a number or any field a formatter took as it came (from a broken or hostile server at
 * PINERY_URL, or a restored archive's manifest) cannot carry an escape sequence either. Idempotent.
 */
export function printableLines (text: string): string {
  return text.split('\n').map(printable).join('\n')
}

/**
 * JSON for a terminal: JSON.stringify leaves DEL, the C1 controls (0x9b
 * starts an escape sequence in some terminals), bidi overrides and line
 * separators raw; here they are \u escapes, so the JSON means the same.
 */
export function printableJson (value: unknown): string {
  // C0 controls in strings are escaped by JSON.stringify already; the raw ones left are its line breaks.
  return JSON.stringify(value, null, 2)
    .replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Co}]/gu,
      c => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`)
}

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

/** A duration in ms: seconds, or a number with s, m or h (`90`, `90s`, `15m`, `2h`); undefined when it is none. */
export function parseDuration (text: string): number | undefined {
  const m = /^(\d{1,7})(s|m|h)?$/.exec(text)
  if (m == null || Number(m[1]) === 0) return undefined
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h']
}

/** Rows under a header, in columns; cells escaped (they are what the service or the data dir holds). */
export function table (header: string[], rawRows: string[][]): string {
  const rows = rawRows.map(r => r.map(printable))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [header, ...rows].map(line).join('\n') + '\n'
}

const limitsText = (limits: Limits): string =>
  limits.bytes == null && limits.pins == null
    ? 'unlimited'
    : [
        limits.bytes != null ? formatBytes(limits.bytes) : undefined,
        limits.pins != null ? `${limits.pins} pins` : undefined
      ].filter(Boolean).join(', ')

const live = (u: Usage): number => u.pins.queued + u.pins.pinning + u.pins.pinned

/** Users with their usage. */
export function usersText (users: UserView[]): string {
  return table(['NAME', 'ROLE', 'PINS', 'PINNED', 'QUOTA', 'CREATED'],
    users.map(u => [
      u.name, u.role, String(live(u.usage)), formatBytes(u.usage.bytes), limitsText(u.quota ?? {}), u.created
    ]))
}

/** One user in detail. */
export function userText (user: UserView): string {
  return printable(`${user.name} (${user.role}), created ${user.created}`) + '\n' + usageText(user.usage)
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
    usage.users.map(u => [
      u.user, String(live(u)), String(u.pins.failed), formatBytes(u.bytes), limitsText(u.limits)
    ])) +
    `\nnode: ${usage.node.blocks} blocks, ${formatBytes(usage.node.bytes)} on disk\n`
}

const creatorText = (t: TokenInfo): string =>
  t.createdBy == null ? '-' : t.createdByUser != null ? `${t.createdByUser}/${t.createdBy}` : t.createdBy

/** A user's tokens (never secrets: the service has none to show), with the token that created each. */
export function tokensText (tokens: TokenInfo[]): string {
  return table(['ID', 'LABEL', 'SCOPE', 'CREATED', 'LAST USED', 'EXPIRES', 'CREATED BY'],
    tokens.map(t => [
      t.id, t.label ?? '', t.scope, t.created, t.lastUsed ?? 'never', t.expires ?? 'never', creatorText(t)
    ]))
}

/** What a user deletion removed. */
export function deletedText (name: string, d: DeletedUser): string {
  return `deleted user ${printable(name)}: ${counted(d.removedPins, 'pin request')} removed, ` +
    `${counted(d.revokedTokens, 'token')} revoked\n`
}
