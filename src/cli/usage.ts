/**
 * The CLI's help text, printed by `pinery --help` and above a usage error's message: every command, its
 * options and what it does.
 */
import { SCOPES } from '../auth/index.js'

/** Every option `util.parseArgs` reads, for every command (each command reads those it names below). */
export const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  user: { type: 'string' },
  label: { type: 'string' },
  scope: { type: 'string' },
  expires: { type: 'string' },
  role: { type: 'string' },
  'quota-bytes': { type: 'string' },
  'quota-pins': { type: 'string' },
  'remove-pins': { type: 'boolean' },
  repair: { type: 'boolean' },
  all: { type: 'boolean' },
  events: { type: 'string' },
  description: { type: 'string' },
  out: { type: 'string' },
  timeout: { type: 'string' },
  name: { type: 'string' },
  meta: { type: 'string', multiple: true },
  replace: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' }
} as const

/** The whole help text. */
export const USAGE = `Usage: pinery [--url URL] [--json] COMMAND

Users
  user create NAME [--role member|admin] [--quota-bytes SIZE] [--quota-pins N]
  user list
  user show NAME
  user update NAME [--role member|admin] [--quota-bytes SIZE|none] [--quota-pins N|none]
  user delete NAME [--remove-pins]      refused while the user has pins, unless --remove-pins
Tokens (one per device; online without --user: the calling token's own user)
  token create --user NAME [--label DEVICE] [--scope SCOPE] [--expires TIME]
                                        prints only the token (with --json: its details too)
  token list --user NAME
  token revoke --user NAME ID
Usage
  usage [--user NAME | --all]           one user, or every user and the node
                                        (default: online your own, offline --all)
Webhooks (online only; your own, or with --all node-wide ones, admin)
  webhook add URL --events TYPE[,TYPE…] [--description TEXT] [--all]
                                        prints the ID and the signing secret (shown once)
  webhook list
  webhook rm ID
  webhook enable ID                     re-enables a webhook disabled after failing
  webhook test ID                       sends a webhook.test event now
  webhook deliveries ID                 the last 100 delivery attempts
Pins (online only)
  add PATH [--name NAME] [--meta KEY=VALUE]… [--replace ID] [--timeout DURATION]
                                        uploads a folder (the CID ipfs add -r --cid-version=1 gives;
                                        hidden files left out), a CAR (*.car) or a file, waits until
                                        it is pinned, then deletes request ID (the last build's pin);
                                        --quiet prints the CID alone; exit code 1 when not pinned
  ls [--status LIST] [--name NAME] [--meta KEY=VALUE]… [--limit N]
                                        your pin requests, newest first (pinned unless --status says);
                                        --quiet prints their request IDs alone
  wait ID [ID…] [--timeout DURATION]    waits until each pin request (1 to 10) is pinned or failed,
                                        following its replacements; exit code 0 when every one is
                                        pinned, 1 otherwise (failed, deleted, or still waiting after
                                        DURATION: 90, 90s, 15m, 2h)
Backup
  backup --out FILE                     a backup archive (tar) of the node: online (admin token) while
                                        it runs, offline of a stopped data dir; written owner-only;
                                        --out - streams it to stdout (such as into ssh)
  restore FILE                          (offline) restores a backup into an empty PINERY_DATA_DIR,
                                        then checks every pinned DAG as verify does
Data (offline only)
  verify [--repair]                     reads every block of every pinned DAG and checks it against its
                                        CID; exit code 1 and the requests concerned when any is missing
                                        or damaged; --repair sends those requests back to the queue, to
                                        be fetched again from their origins when the service starts

SCOPE is one of ${SCOPES.join(', ')} (each includes the ones before it).
SIZE is bytes, or with a unit: 500MiB, 10G (binary), 2GB (decimal). TIME is RFC 3339.

Offline (no --url): works on PINERY_DATA_DIR (default ./data) while the service is stopped.
Online: --url http://host:port (or PINERY_URL) with a token in PINERY_TOKEN (user commands,
--user and --all need an admin token).
--json prints JSON for scripts instead of text for people.
Exit codes: 0 done, 1 failed (the reason on stderr), 2 bad usage or setting.
`
