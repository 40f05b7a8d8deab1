/**
 * The CLI's commands. Offline (the default) they work on the data dir while
 * the service is stopped; with `--url` (or PINERY_URL) they go through the
 * running service's HTTP API with the token in PINERY_TOKEN. Arguments are
 * parsed with Node's own `util.parseArgs`, which covers this surface
 * without another dependency.
 */
import { parseArgs } from 'node:util'
import { SCOPES, type Scope, type UserChanges } from '../auth/index.js'
import { loadConfig } from '../config.js'
import { openOfflineTeam } from '../offline.js'
import { createRemoteTeam } from './remote-team.js'
import { runBackup, runRestore } from './backup.js'
import { runVerify, verifyText } from './verify.js'
import { runWebhookCommand, UsageProblem } from './webhooks.js'
import { runWait } from './wait.js'
import { AddFailed, metaOf, runAdd, runList } from './pins.js'
import { OPTIONS, USAGE } from './usage.js'
import {
  deletedText, parseBytes, parseDuration, printable, printableJson, printableLines, teamUsageText, tokensText,
  userText, usersText, usageText
} from './format.js'
import type { SelfService, Team } from '../team/index.js'

/** Where the CLI writes and what it reads. */
export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: Record<string, string | undefined>
}

class UsageError extends Error {
  static override name = 'UsageError'
  override name = UsageError.name
}

/**
 * A command given right in a setting that is not (no token): exit code 2 as for bad usage, but the
 * one line without the ~40 lines of help above it, which say nothing about the setting (first-hour walk).
 */
class SettingError extends UsageError {
  static override name = 'SettingError'
  override name = SettingError.name
}

const NO_TOKEN = 'online commands (--url or PINERY_URL) need a token in PINERY_TOKEN'

/** The service's address for an online command; the value is never echoed (a token pasted there must not be). */
function onlineUrl (url: string): string {
  if (!/^https?:\/\/./.test(url)) {
    throw new UsageError('--url must be the service\'s address, such as http://127.0.0.1:7070')
  }
  if (/^https?:\/\/[^/?#]*@/.test(url)) {
    throw new UsageError('--url must not hold a user or password; the token goes in PINERY_TOKEN')
  }
  return url
}

/** PINERY_TOKEN, which every online command needs. */
function onlineToken (env: Record<string, string | undefined>): string {
  const token = env.PINERY_TOKEN
  if (token == null || token === '') throw new SettingError(NO_TOKEN)
  return token
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS, allowPositionals: true }>>['values']

/** What a command prints: JSON for --json, text otherwise. */
interface Output { json: unknown, text: string }

function limit (
  value: string | undefined, name: string, parse: (v: string) => number | undefined
): number | null | undefined {
  if (value == null) return undefined
  if (value === 'none') return null
  const n = parse(value)
  if (n == null || n < 0) {
    const expected = name === 'quota-bytes' ? 'a size such as 10GiB' : 'a whole number'
    throw new UsageError(`--${name} must be ${expected}, or none`)
  }
  return n
}

function changesOf (values: Values): UserChanges {
  if (values.role != null && values.role !== 'member' && values.role !== 'admin') {
    throw new UsageError('--role must be member or admin')
  }
  const bytes = limit(values['quota-bytes'], 'quota-bytes', parseBytes)
  const pins = limit(values['quota-pins'], 'quota-pins',
    v => /^\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : undefined)
  const quota = { ...(bytes !== undefined ? { bytes } : {}), ...(pins !== undefined ? { pins } : {}) }
  return { ...(values.role != null ? { role: values.role } : {}), ...(Object.keys(quota).length > 0 ? { quota } : {}) }
}

function need (value: string | undefined, what: string): string {
  if (value == null || value === '') throw new UsageError(`${what} is required`)
  return value
}

/** Runs one command against a team; `self` (online only) serves commands about the caller's own user. */
async function execute (team: Team, self: SelfService | undefined, args: string[], values: Values): Promise<Output> {
  // Token commands without --user act for the calling token's user, online.
  const mine = values.user == null && self != null
  const user = (): string => need(values.user, self == null ? '--user NAME (offline)' : '--user NAME')
  const [noun, verb, arg, ...extra] = args
  if (extra.length > 0) throw new UsageError(`unexpected "${extra.join(' ')}"`)
  const command = `${noun ?? ''} ${verb ?? ''}`.trim()
  // `token create alice --label laptop` made a token for the caller (online with the admin token: an admin
  // token), not for alice: a name where none is read is refused, saying where it goes.
  if ((command === 'token create' || command === 'token list') && arg != null) {
    throw new UsageError(`unexpected "${arg}": give the user as --user ${arg}`)
  }
  switch (command) {
    case 'user create': {
      const u = await team.createUser(need(arg, 'NAME'), changesOf(values))
      return { json: u, text: userText(u) }
    }
    case 'user list': { const users = await team.listUsers(); return { json: users, text: usersText(users) } }
    case 'user show': { const u = await team.getUser(need(arg, 'NAME')); return { json: u, text: userText(u) } }
    case 'user update': {
      const u = await team.updateUser(need(arg, 'NAME'), changesOf(values))
      return { json: u, text: userText(u) }
    }
    case 'user delete': {
      const name = need(arg, 'NAME')
      const d = await team.deleteUser(name, { removePins: values['remove-pins'] === true })
      return { json: d, text: deletedText(name, d) }
    }
    case 'token create': {
      if (values.scope != null && !SCOPES.includes(values.scope as Scope)) {
        throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}`)
      }
      const expires = values.expires == null ? undefined : new Date(values.expires)
      if (expires != null && Number.isNaN(expires.getTime())) {
        throw new UsageError('--expires must be a time such as 2027-01-31T00:00:00Z')
      }
      const options = {
        ...(values.label != null ? { label: values.label } : {}),
        ...(values.scope != null ? { scope: values.scope as Scope } : {}),
        ...(expires != null ? { expires } : {}),
        // Online the service records the calling token as the creator.
        ...(self == null ? { creator: 'offline' as const } : {})
      }
      const { info, secret } = mine ? await self.createToken(options) : await team.createToken(user(), options)
      return { json: { ...info, secret }, text: `${secret}\n` }
    }
    case 'token list': {
      const t = mine ? await self.listTokens() : await team.listTokens(user())
      return { json: t, text: tokensText(t) }
    }
    case 'token revoke': {
      const id = need(arg, 'the token ID')
      if (mine) await self.revokeToken(id)
      else await team.revokeToken(user(), id)
      return { json: { revoked: id }, text: `revoked token ${printable(id)}\n` }
    }
    case 'usage': {
      if (values.user != null && values.all === true) throw new UsageError('give --user NAME or --all, not both')
      if (values.user != null || (self != null && values.all !== true)) {
        const u = values.user != null ? await team.usage(values.user) : await (self as SelfService).usage()
        return { json: u, text: `${printable(u.user)}\n${usageText(u)}` }
      }
      const all = await team.teamUsage()
      return { json: all, text: teamUsageText(all) }
    }
    default: throw new UsageError(`unknown command "${args.join(' ')}"`)
  }
}

/** Runs one command; resolves with the process exit code (0 done, 1 failed, 2 bad usage). */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  // Messages may quote what the service or the data dir holds: escaped like everything else printed.
  const fail = (message: string, code = 1): number => {
    io.stderr.write(`pinery: ${message.split('\n').map(printable).join('\n')}\n`)
    return code
  }
  // The usage first and the message last: after ~40 lines of usage, a message above them is off the screen.
  const usageFail = (message: string): number => {
    io.stderr.write(`${USAGE}\n`)
    return fail(message, 2)
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
  } catch (err) {
    return usageFail((err as Error).message)
  }
  const { positionals, values } = parsed
  if (values.help === true || positionals.length === 0) {
    io.stdout.write(USAGE)
    return values.help === true ? 0 : 2
  }
  try {
    // An empty PINERY_URL (`PINERY_URL= pinery user list`) means offline, as an unset one does.
    const url = values.url ?? (io.env.PINERY_URL === '' ? undefined : io.env.PINERY_URL)
    if (positionals[0] === 'webhook') {
      const token = io.env.PINERY_TOKEN
      if (url == null || !/^https?:\/\/./.test(url)) {
        throw new SettingError('webhook commands work online: give --url http://host:port (or PINERY_URL)')
      }
      if (token == null || token === '') throw new SettingError(NO_TOKEN)
      const [, verb, arg, ...extra] = positionals
      if (extra.length > 0) throw new UsageError(`unexpected "${extra.join(' ')}"`)
      const output = await runWebhookCommand({ url, token }, verb, arg, values).catch((err: Error) => {
        throw err.name === UsageProblem.name ? new UsageError(err.message) : err
      })
      io.stdout.write(values.json === true ? `${printableJson(output.json)}\n` : printableLines(output.text))
      return 0
    }
    const timeoutMs = values.timeout == null ? undefined : parseDuration(values.timeout)
    if (values.timeout != null && timeoutMs == null) {
      throw new UsageError('--timeout must be a duration such as 90, 90s, 15m or 2h')
    }
    const say = (line: string): void => { io.stderr.write(printableLines(`${line}\n`)) }
    /** An online pins command's settings; the token only from PINERY_TOKEN, never an argument (`ps` shows those). */
    const online = (command: string): { url: string, token: string, timeoutMs?: number } => {
      if (url == null) throw new SettingError(`${command} works online: give --url http://host:port (or PINERY_URL)`)
      return { url: onlineUrl(url), token: onlineToken(io.env), ...(timeoutMs != null ? { timeoutMs } : {}) }
    }
    if (positionals[0] === 'wait') {
      const ids = positionals.slice(1)
      const init = online('wait')
      if (ids.length === 0 || ids.length > 10) throw new UsageError('wait takes 1 to 10 request IDs')
      const { json, text, code } = await runWait({ ...init, waiting: say }, ids)
      io.stdout.write(values.json === true ? `${printableJson(json)}\n` : printableLines(text))
      return code
    }
    if (positionals[0] === 'add' || positionals[0] === 'ls') {
      const [command, path, ...extra] = positionals
      if (extra.length > 0 || (command === 'ls' && path != null)) {
        throw new UsageError(`unexpected "${positionals.slice(command === 'ls' ? 1 : 2).join(' ')}"`)
      }
      // GET /pins takes 1 to 1000; the service's 400 for another read as a failure (1), not bad usage (2).
      if (values.limit != null && !/^[1-9]\d{0,2}$|^1000$/.test(values.limit)) {
        throw new UsageError('--limit must be a whole number from 1 to 1000')
      }
      let meta
      try { meta = metaOf(values.meta) } catch (err) { throw new UsageError((err as Error).message) }
      const file = command === 'add' ? need(path, 'PATH') : ''
      const init = { ...online(command), say }
      const o = { name: values.name, replace: values.replace, status: values.status, limit: values.limit, meta }
      const output = command === 'ls' ? await runList(init, o) : await runAdd(init, file, o)
      const quiet = values.quiet === true ? output.quiet : printableLines(output.text)
      io.stdout.write(values.json === true ? `${printableJson(output.json)}\n` : quiet)
      return output.code
    }
    if (positionals[0] === 'backup') {
      if (positionals.length > 1) throw new UsageError(`unexpected "${positionals.slice(1).join(' ')}"`)
      const out = need(values.out, '--out FILE')
      const source = url != null
        ? { url: onlineUrl(url), token: onlineToken(io.env) }
        : { dataDir: loadConfig(io.env).dataDir }
      const line = await runBackup(source, out, io.stdout)
      ;(out === '-' ? io.stderr : io.stdout).write(printableLines(line))
      return 0
    }
    if (positionals[0] === 'restore') {
      if (values.url != null) throw new UsageError('restore works offline, into an empty PINERY_DATA_DIR')
      if (positionals.length !== 2) throw new UsageError('restore takes one FILE')
      const { json, text, code } = await runRestore(positionals[1] as string, loadConfig(io.env).dataDir)
      io.stdout.write(values.json === true ? `${printableJson(json)}\n` : printableLines(text))
      return code
    }
    if (positionals[0] === 'verify') {
      if (values.url != null) {
        throw new UsageError('verify works offline, on PINERY_DATA_DIR while the service is stopped')
      }
      if (positionals.length > 1) throw new UsageError(`unexpected "${positionals.slice(1).join(' ')}"`)
      const { report, code } = await runVerify(loadConfig(io.env).dataDir, values.repair === true, io.stderr)
      io.stdout.write(values.json === true ? `${printableJson(report)}\n` : printableLines(verifyText(report)))
      return code
    }
    let team: Team
    let self: SelfService | undefined
    let close = async (): Promise<void> => {}
    if (url != null) {
      ;({ team, self } = createRemoteTeam({ url: onlineUrl(url), token: onlineToken(io.env) }))
    } else {
      const config = loadConfig(io.env)
      const offline = await openOfflineTeam(config.dataDir, { maxTokensPerUser: config.maxTokensPerUser })
      team = offline.team
      close = offline.close
    }
    let output: Output
    try {
      output = await execute(team, self, positionals, values)
    } finally {
      await close()
    }
    io.stdout.write(values.json === true ? `${printableJson(output.json)}\n` : printableLines(output.text))
    return 0
  } catch (err) {
    if ((err as Error).name === AddFailed.name && values.json === true) {
      io.stdout.write(`${printableJson({ results: (err as AddFailed).pins, replaced: null })}\n`)
    }
    if ((err as Error).name === SettingError.name) return fail((err as Error).message, 2)
    if ((err as Error).name === UsageError.name) return usageFail((err as Error).message)
    return fail((err as Error).message)
  }
}
