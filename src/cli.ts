#!/usr/bin/env node
/**
 * The `pinery` command: users, tokens and usage. Offline it works on the
 * data dir (PINERY_DATA_DIR) while the service is stopped; while the service
 * runs, LevelDB's lock makes it refuse with a clear message and change
 * nothing, and `--url` with PINERY_TOKEN goes through the HTTP API instead.
 */
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`pinery: Node.js >= 22 is required, this is ${process.version}. ` +
    "Run it through npx or npm scripts, which use the project's Node 24.\n")
  process.exit(1)
}
const { runCli } = await import('./cli/run.js')
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout, stderr: process.stderr, env: process.env
})
export {}
