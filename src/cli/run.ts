/**
 * The CLI's commands. Arguments are parsed with Node's own `util.parseArgs`,
 * which covers this small surface without another dependency.
 */
import { parseArgs } from 'node:util'
import { createTokenStore, createUserStore } from '../auth/index.js'
import { loadConfig } from '../config.js'
import { openDatastore } from '../node/storage.js'

/** Where the CLI writes and what it reads. */
export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: Record<string, string | undefined>
}

const USAGE = `Usage:
  pinery token create --user NAME [--label DEVICE]   create a token; prints only the token

The data dir is PINERY_DATA_DIR (default ./data). Run while the service is stopped.
`

/** Runs one command; resolves with the process exit code. */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  const fail = (message: string): number => { io.stderr.write(`pinery: ${message}\n`); return 1 }
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { user: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean', short: 'h' } } })
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`)
  }
  const { positionals, values } = parsed
  if (values.help === true || positionals.length === 0) {
    io.stdout.write(USAGE)
    return values.help === true ? 0 : 1
  }
  if (positionals[0] !== 'token' || positionals[1] !== 'create' || positionals.length !== 2) return fail(`unknown command "${positionals.join(' ')}"\n${USAGE}`)
  if (values.user == null) return fail('--user NAME is required')

  try {
    const { dataDir } = loadConfig(io.env)
    const datastore = await openDatastore(dataDir)
    try {
      const { secret } = await createTokenStore({ datastore, users: createUserStore({ datastore }) }).create(values.user, values.label != null ? { label: values.label } : {})
      io.stdout.write(`${secret}\n`)
    } finally {
      await datastore.close()
    }
    return 0
  } catch (err) {
    return fail((err as Error).message)
  }
}
