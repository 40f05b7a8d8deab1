/**
 * bench:ui — the web app on the bench:api data set. Fills N pin records over
 * 10 users (scripts/bench/fill.ts), starts Pinery on them in its own
 * process, signs user0 (100,000 pins at the default size) in through the page in
 * real Chromium, then measures:
 *  - pins page: a fresh navigation to /#/pins until its first page of 20 is
 *    in the DOM (the `pins-rendered` mark, from the navigation's start);
 *  - name search: from submitting the filter form until the results are in
 *    the DOM.
 * Each is repeated; the first navigation (cold caches) is reported apart.
 *
 *   npm run bench:ui -- [--records 1000000] [--runs 20]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startServerProcess } from '../../test/fixtures/process.js'
import { launchBrowser, signIn, DESKTOP } from '../../test/fixtures/browser.js'
import { serverEnv, median, table } from './lib.js'
import type { Expected } from './fill.js'
import type { Page } from 'playwright-core'

// Browser globals, used only inside page.evaluate callbacks (which run in Chromium).
declare const document: any, requestAnimationFrame: (fn: (t: number) => void) => number
type HTMLFormElement = { requestSubmit(): void }

const { values } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '20' } }
})
const runs = Number(values.runs)
const FILL = fileURLToPath(new URL('./fill.ts', import.meta.url))
const SEARCHES = [
  { label: 'name contains (any case) "REPORT-42"', name: 'REPORT-42', match: 'ipartial' },
  { label: 'name is exactly "slides-7.pdf"', name: 'slides-7.pdf', match: 'exact' },
  { label: 'name contains "notes-99"', name: 'notes-99', match: 'partial' },
  { label: 'name contains "no-such-name" (none)', name: 'no-such-name', match: 'partial' }
]

async function run (cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  const code = await new Promise(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${String(code)}`)
}

/** Where a navigation's time went: the page itself, GET /session and GET /pins (ms, from its start). */
interface Breakdown { rendered: number, document: number, session: number, pins: number }

// Run in the page (a string: the bundler's helpers do not exist there).
const BREAKDOWN = `(() => {
  const end = m => (performance.getEntriesByType('resource').find(e => m(e.name)) ?? {}).responseEnd ?? NaN
  return {
    rendered: performance.getEntriesByName('pins-rendered')[0]?.startTime ?? NaN,
    document: performance.getEntriesByType('navigation')[0]?.responseEnd ?? NaN,
    session: end(n => n.endsWith('/session')),
    pins: end(n => n.includes('/pins?'))
  }
})()`

/** A fresh navigation to the pins page, until its first page is in the DOM. */
async function firstPage (page: Page): Promise<Breakdown> {
  await page.goto('about:blank')
  await page.goto('/#/pins', { waitUntil: 'commit' })
  await page.locator('[data-ready=pins] tbody tr').first().waitFor({ timeout: 30_000 })
  return await page.evaluate(BREAKDOWN) as Breakdown
}

/** ms from submitting a name search to its results in the DOM; also how many rows it shows. */
async function search (page: Page, name: string, match: string): Promise<{ ms: number, rows: number }> {
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('Name match').selectOption(match)
  return await page.evaluate(async () => {
    const before = performance.getEntriesByName('pins-rendered').length
    const form = document.querySelector('form.filters') as HTMLFormElement
    const t0 = performance.now()
    form.requestSubmit()
    for (;;) {
      await new Promise(resolve => requestAnimationFrame(resolve))
      const marks = performance.getEntriesByName('pins-rendered')
      if (marks.length > before) {
        return {
          ms: (marks[marks.length - 1]?.startTime ?? NaN) - t0, rows: document.querySelectorAll('tbody tr').length
        }
      }
    }
  })
}

const stats = (xs: number[]): string[] => {
  const s = [...xs].sort((a, b) => a - b)
  return [median(s).toFixed(0), (s[Math.max(0, Math.ceil(s.length * 0.95) - 1)] as number).toFixed(0),
    (s[s.length - 1] as number).toFixed(0)]
}

const dir = await mkdtemp(join(tmpdir(), 'pinery-bench-ui-'))
try {
  let t = performance.now()
  await run(process.execPath, ['--import', 'tsx', FILL, '--dir', dir, '--records', values.records])
  const fillSeconds = (performance.now() - t) / 1000
  const expected = JSON.parse(await readFile(join(dir, 'bench-expected.json'), 'utf8')) as Expected
  t = performance.now()
  const server = await startServerProcess({
    ...serverEnv(dir, 'pinery_bench-admin-token'),
    PINERY_STALL_TIMEOUT_MS: '3600000'
  })
  const startSeconds = (performance.now() - t) / 1000
  const browser = await launchBrowser()
  try {
    const context = await browser.newContext({ viewport: DESKTOP, baseURL: server.url })
    const page = await context.newPage()
    await page.goto('/')
    await signIn(page, expected.token)
    const cold = await firstPage(page)
    const count = await page.locator('.count').textContent()
    const loads: Breakdown[] = []
    for (let i = 0; i < runs; i++) loads.push(await firstPage(page))
    const rows: string[][] = [
      ['pins page, first page (all statuses), first navigation', cold.rendered.toFixed(0), '', '', count ?? ''],
      ['pins page, first page (all statuses), later navigations', ...stats(loads.map(l => l.rendered)), count ?? ''],
      ['… of which: page received (HTML)', ...stats(loads.map(l => l.document)), ''],
      ['… GET /session answered', ...stats(loads.map(l => l.session)), ''],
      ['… GET /pins answered', ...stats(loads.map(l => l.pins)), '']
    ]
    for (const s of SEARCHES) {
      const times: number[] = []
      let shown = 0
      for (let i = 0; i < runs; i++) {
        await firstPage(page)
        const r = await search(page, s.name, s.match)
        times.push(r.ms)
        shown = r.rows
      }
      const countText = await page.locator('.count, .empty p').first().textContent() ?? ''
      rows.push([`search: ${s.label}`, ...stats(times), `${countText} (${shown} shown)`])
    }
    process.stdout.write(`\nbench:ui — ${values.records} records over 10 users, signed in as user0; ` +
      `${runs} runs each; Chromium ${browser.version()} headless, 1280×800\n`)
    process.stdout.write(`fill ${fillSeconds.toFixed(1)} s; Pinery start-up ${startSeconds.toFixed(1)} s\n\n`)
    process.stdout.write(table(['measure', 'median ms', 'p95 ms', 'max ms', 'pins'], rows) + '\n')
  } finally {
    await browser.close()
    await server.stop()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
