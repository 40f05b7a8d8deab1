/**
 * What build is running: the package version and, when run from a git
 * checkout, the commit. Read once at start.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Version and commit of this build ('unknown' where they cannot be read). */
export function buildInfo (): { version: string, commit: string } {
  let version = 'unknown'
  let commit = 'unknown'
  try { version = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version } catch {}
  try {
    const options = { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] as Array<'ignore' | 'pipe'>, timeout: 2000 }
    commit = execFileSync('git', ['rev-parse', 'HEAD'], options).toString().trim()
  } catch {}
  return { version, commit }
}
