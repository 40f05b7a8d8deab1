/**
 * The README's configuration table stays true: every setting, with its
 * default, and nothing that does not exist.
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { configSettings } from '../src/config.js'

describe('README', () => {
  it('documents every setting with its default, and no others', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const rows = new Map([...readme.matchAll(/^\| `(PINERY_[A-Z_]+)` \| ([^|]+) \|/gm)]
      .map(m => [m[1], (m[2] as string).trim()]))
    const settings = configSettings()
    expect([...rows.keys()]).toEqual(settings.map(s => s.env))
    for (const s of settings) {
      if (s.default !== '') expect(rows.get(s.env), s.env).toBe(`\`${s.default}\``)
    }
  })

  it('holds exactly the two set-up commands, and CI runs the test one', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const setup = readme.slice(readme.indexOf('## Set up'), readme.indexOf('## Configuration'))
    const commands = [...setup.matchAll(/```sh\n([^`]+)```/g)].map(m => (m[1] as string).trim())
    expect(commands).toEqual(['npm ci && npm run build && npm start', 'npm ci && npm test'])
    const ci = await readFile(new URL('../.ci/run', import.meta.url), 'utf8')
    expect(ci).toMatch(/npm ci[^\n]*\nnpm test/)
  })
})
