/**
 * Validation of the team routes' bodies: new tokens, new users and changes
 * to users become domain types or an InvalidRequestError naming the field.
 */
import { json } from 'express'
import { z } from 'zod'
import { InvalidRequestError } from '../errors.js'
import { describeIssues } from './schemas.js'
import { parseTimestamp } from './timestamps.js'
import {
  LABEL_RULE, SCOPES, TOKEN_LABEL, USER_NAME, type Scope, type TokenOptions, type UserChanges
} from '../auth/index.js'

/** Parses the small JSON bodies of the token and team routes (any Content-Type; 16 KiB at most). */
export const smallJsonBody = json({ limit: 16 * 1024, strict: false, type: () => true })

const limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable()
const quota = z.strictObject({ bytes: limit.optional(), pins: limit.optional() })

const tokenBody = z.strictObject({
  label: z.string().regex(TOKEN_LABEL, LABEL_RULE).optional(),
  scope: z.enum(SCOPES).optional(),
  // The same RFC 3339 parser as the list filters; a time past the millisecond is cut to it.
  expires: z.string().transform((v, ctx) => parseTimestamp(v, 'expires', ctx).floor).optional()
})

const changesBody = z.strictObject({
  role: z.enum(['member', 'admin']).optional(),
  // null removes every limit.
  quota: quota.nullable().optional()
})

const userBody = changesBody.extend({
  name: z.string().regex(USER_NAME, "must be 1-64 lowercase letters, digits or '-'")
})

function parse<T> (schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {})
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error))
  return parsed.data
}

function toChanges (body: z.infer<typeof changesBody>): UserChanges {
  return {
    ...(body.role != null ? { role: body.role } : {}),
    ...(body.quota === null ? { quota: { bytes: null, pins: null } } : body.quota != null ? { quota: body.quota } : {})
  }
}

/** A new token: its options and the scope asked for (undefined: the caller decides). */
export function parseTokenBody (body: unknown): TokenOptions & { scope?: Scope } {
  const data = parse(tokenBody, body)
  return {
    ...(data.label != null ? { label: data.label } : {}),
    ...(data.scope != null ? { scope: data.scope } : {}),
    ...(data.expires != null ? { expires: new Date(data.expires) } : {})
  }
}

/** A new user: the name and its role and quota. */
export function parseUserBody (body: unknown): { name: string, changes: UserChanges } {
  const data = parse(userBody, body)
  return { name: data.name, changes: toChanges(data) }
}

/** Changes to a user. */
export function parseUserChanges (body: unknown): UserChanges {
  return toChanges(parse(changesBody, body))
}
