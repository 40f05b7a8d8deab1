/**
 * The README's CI job (a GitHub Actions step's `run:` script, taken from the README as it stands) against a real
 * service: it pins each build's folder under the commit's name, replaces the last build's pin, prints the CID,
 * and fails with the reason and a non-zero exit code on every problem a job meets; the token never shows in
 * its output or in any process's arguments. `pinery` is dist/cli.js on PATH, as `npm link` makes it.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { directoryDag, splitDag } from './fixtures/content.js'
import { CLI, run } from './fixtures/process.js'
import { startService, type TestService } from './fixtures/service.js'

/** The `run: |` script of the README's "Pinning each build from CI" step. */
async function readmeJob (): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Pinning each build from CI'))
  const yaml = /```yaml\n([^`]+)```/.exec(section)?.[1] as string
  const lines = yaml.slice(yaml.indexOf('run: |\n') + 'run: |\n'.length).split('\n')
  const indent = /^ */.exec(lines[0] as string)?.[0].length as number
  return lines.map(l => l.slice(indent)).join('\n')
}

/** The token anywhere in a running process's arguments (`ps` shows them to every user of the machine). */
async function argumentsHolding (secret: string): Promise<string[]> {
  const found: string[] = []
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue
    const args = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (args.includes(secret)) found.push(args.replaceAll('\0', ' '))
  }
  return found
}

describe('the README\'s CI job', () => {
  let service: TestService
  let work: string
  let bin: string
  let script: string

  beforeAll(async () => {
    service = await startService({ users: ['ci', 'small'], quotas: { small: { bytes: 10 } } })
    work = await mkdtemp(join(tmpdir(), 'pinery-ci-job-'))
    bin = join(work, 'bin')
    await mkdir(bin)
    await symlink(CLI, join(bin, 'pinery'))
    script = await readmeJob()
  })
  afterAll(async () => {
    await service?.destroy()
    if (work != null) await rm(work, { recursive: true, force: true })
  })

  /** Runs the job in a fresh dir holding `files` under build/ (none: no build dir), watching every process's args. */
  async function job (files: Record<string, string> | undefined, env: Record<string, string>): Promise<{
    code: number | null
    stdout: string
    stderr: string
    exposed: string[]
  }> {
    const dir = await mkdtemp(join(work, 'run-'))
    for (const [path, text] of Object.entries(files ?? {})) {
      await mkdir(dirname(join(dir, 'build', path)), { recursive: true })
      await writeFile(join(dir, 'build', path), text)
    }
    const child = spawn('bash', ['-c', script], {
      cwd: dir,
      env: { PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`, PINERY_URL: service.url, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = once(child, 'exit') as Promise<[number | null]>
    const exposed: string[] = []
    let done = false
    void exited.then(() => { done = true })
    while (!done && env.PINERY_TOKEN != null) {
      exposed.push(...await argumentsHolding(env.PINERY_TOKEN))
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    const [code] = await exited
    return { code, stdout, stderr, exposed }
  }

  it('pins each build under the commit, replaces the last build\'s pin, and shows the token nowhere', async () => {
    const token = service.tokens.ci as string
    const v1 = { 'index.html': '<h1>v1</h1>', 'css/app.css': 'h1{}', '.env': 'SECRET=1' }
    const first = await job(v1, { PINERY_TOKEN: token, GITHUB_SHA: 'c0ffee1' })
    expect(first.code, first.stderr).toBe(0)
    // The folder's CID as `ipfs add -r --cid-version=1` gives it: hidden files left out.
    const cid1 = (await directoryDag([
      { path: 'index.html', bytes: Buffer.from(v1['index.html']) }, { path: 'css/app.css', bytes: Buffer.from('h1{}') }
    ])).root.toString()
    expect(first.stdout).toBe(`pinned build c0ffee1 as ${cid1}\n`)
    const client = service.client('ci')
    const before = await client.pinsGet({ meta: { branch: 'main' } })
    expect(before.count).toBe(1)

    const second = await job({ 'index.html': '<h1>v2</h1>' }, { PINERY_TOKEN: token, GITHUB_SHA: 'c0ffee2' })
    expect(second.code, second.stderr).toBe(0)
    const cid2 = /as (\S+)\n$/.exec(second.stdout)?.[1]
    const after = Array.from((await client.pinsGet({ meta: { branch: 'main' } })).results)
    expect(after.map(p => [p.pin.name, p.pin.cid, p.status])).toEqual([['site-c0ffee2', cid2, 'pinned']])
    const old = Array.from(before.results)[0]?.requestid as string
    await expect(client.pinsRequestidGet({ requestid: old })).rejects.toMatchObject({ status: 404 })

    for (const r of [first, second]) {
      expect(r.stdout + r.stderr).not.toContain(token)
      expect(r.exposed).toEqual([])
    }
  })

  it('fails the job with the reason on stderr and exit code 1 for each problem a job meets', async () => {
    const site = { 'index.html': '<h1>v3</h1>' }
    const free = createServer().listen(0, '127.0.0.1')
    await once(free, 'listening')
    const closed = (free.address() as AddressInfo).port
    free.close()
    const addOnly = await service.call('POST', '/tokens', 'ci', { label: 'add only', scope: 'pins:add' })
    const cases: Array<[string, Record<string, string> | undefined, Record<string, string>, RegExp]> = [
      ['no token', site, {}, /online commands .* need a token in PINERY_TOKEN/],
      ['a revoked or mistyped token', site, { PINERY_TOKEN: 'pinery_not-a-token' }, /UNAUTHORIZED \(401\)/],
      ['a token that may only add', site, { PINERY_TOKEN: (await addOnly.json() as { secret: string }).secret },
        /FORBIDDEN \(403\): .*pins:read/],
      ['no build folder', undefined, { PINERY_TOKEN: service.tokens.ci as string }, /build: no such file or folder/],
      ['over the quota', site, { PINERY_TOKEN: service.tokens.small as string }, /INSUFFICIENT_FUNDS \(409\)/],
      ['the service down', site, { PINERY_TOKEN: service.tokens.ci as string, PINERY_URL: `http://127.0.0.1:${closed}` },
        /cannot reach the service at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/],
      // fetch refuses such ports outright and said only "fetch failed".
      ['a port fetch refuses', site, { PINERY_TOKEN: service.tokens.ci as string, PINERY_URL: 'http://127.0.0.1:6000' },
        /refuses to connect to that port: run the service on another PINERY_HTTP_PORT/]
    ]
    for (const [what, files, env, reason] of cases) {
      const r = await job(files, { GITHUB_SHA: 'bad', ...env })
      expect(r.code, `${what}: ${r.stderr}`).toBe(what === 'no token' ? 2 : 1)
      expect(r.stderr, what).toMatch(reason)
      expect(r.stdout, what).toBe('')
      if (env.PINERY_TOKEN != null) expect(r.stderr, what).not.toContain(env.PINERY_TOKEN)
    }
  })

  it('keeps the last build\'s pin when the new one is not pinned in time (a CAR whose blocks nobody has)', async () => {
    const dir = await mkdtemp(join(work, 'car-'))
    const { car } = await splitDag()
    await writeFile(join(dir, 'build.car'), car)
    const env = { PINERY_URL: service.url, PINERY_TOKEN: service.tokens.ci as string }
    const prev = (await run(CLI, ['ls', '--meta', 'branch=main', '--quiet'], env)).stdout.trim()
    expect(prev).toMatch(/^[0-9a-f-]{36}$/)
    const r = await run(CLI, ['add', join(dir, 'build.car'), '--meta', 'branch=main', '--replace', prev,
      '--timeout', '3', '--quiet'], env)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/still (queued|pinning) after \d+(\.\d+)? s\n.*the upload is not pinned; .* is kept/s)
    expect(r.stdout).toBe('')
    const kept = await service.client('ci').pinsRequestidGet({ requestid: prev })
    expect(kept.status).toBe('pinned')
    // A mistyped --replace is refused before anything is uploaded.
    const typo = await run(CLI, ['add', join(dir, 'build.car'), '--replace', 'no-such-request'], env)
    expect(typo.code).toBe(1)
    expect(typo.stderr).toBe('pinery: --replace no-such-request: no such pin request of yours (nothing uploaded)\n')
  })

  // `cd build && pinery add .` named the pin "." (review17): a folder is named as it is called, also as `.`.
  it('names a folder given as `.` or with a trailing slash by the folder', async () => {
    const dir = await mkdtemp(join(work, 'dot-'))
    await mkdir(join(dir, 'site'))
    await writeFile(join(dir, 'site', 'index.html'), '<h1>dot</h1>')
    const env = { PINERY_URL: service.url, PINERY_TOKEN: service.tokens.ci as string }
    for (const path of [`${join(dir, 'site')}/.`, `${join(dir, 'site')}/`]) {
      const r = await run(CLI, ['add', path, '--json'], env)
      expect(r.code, r.stderr).toBe(0)
      const { results } = JSON.parse(r.stdout) as { results: Array<{ pin: { name?: string } }> }
      expect(results.map(p => p.pin.name), path).toEqual(['site'])
    }
  })
})
