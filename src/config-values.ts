/**
 * Parsers of setting values for config.ts's table: each takes the environment's text and returns the
 * value or throws an Error whose message config.ts reports with the variable's name (never a secret's value).
 */

/** Trimmed, and not empty. */
export function nonEmpty (what: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new Error(`must not be empty (${what})`)
    return value.trim()
  }
}

/** A whole number in [min, max]. */
export function integer (min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new Error(`expected a whole number, got "${value}"`)
    const n = Number(value)
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`)
    return n
  }
}

/** Anything a client can send in "Authorization: Bearer <token>", and long enough to resist guessing. */
export function adminToken (value: string): string | undefined {
  if (value === '') return undefined
  if (!/^[\x21-\x7e]{16,}$/.test(value)) {
    throw new Error('must be at least 16 printable ASCII characters without spaces (it is sent as a Bearer token)')
  }
  return value
}

/** Stretched with scrypt, but a short password is still guessed offline from a copied data dir. */
export function keyPassword (value: string): string | undefined {
  if (value === '') return undefined
  if ([...value].length < 12) throw new Error('must be at least 12 characters')
  return value
}

/** One of a few words (a setting that picks a mode). */
export function oneOf<const T extends readonly string[]> (...choices: T) {
  return (value: string): T[number] => {
    if (!choices.includes(value)) throw new Error(`expected ${choices.join(' or ')}`)
    return value
  }
}

/** Comma-separated items, blanks dropped. */
export const commaList = (v: string): string[] => v.split(',').map(s => s.trim()).filter(s => s !== '')
