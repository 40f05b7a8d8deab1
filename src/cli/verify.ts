/**
 * `pinery verify`: the operator's check that every pinned DAG is still whole on disk (see pins/verify.ts).
 * Offline only: it reads every block, which the running service should not share its disk with unasked,
 * and LevelDB's lock keeps it off a data dir the service holds. Exit code 1 when anything is missing or
 * damaged, so a cron job or a backup restore script can act on it.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DATASTORE_FORMAT } from '../node/datastore-format.js'
import { openDatastore } from '../node/storage.js'
import { verifyDataDir } from '../offline.js'
import { formatBytes, printable } from './format.js'
import type { DamagedDag, VerifyReport } from '../pins/verify.js'

/** Progress goes to stderr at most this often. */
const PROGRESS_EVERY_MS = 5000

/** The report for people. */
export function verifyText (report: VerifyReport & { requeued?: number }): string {
  const dags = report.dags === 1 ? '1 pinned DAG' : `${report.dags} pinned DAGs`
  const head = `checked ${dags}, ${report.blocks} blocks (${formatBytes(report.bytes)} read)`
  if (report.damaged.length === 0) return `${head}: every block is present and matches its CID\n`
  const dag = (d: DamagedDag): string => {
    const what = [d.missing > 0 ? `${d.missing} missing` : '', d.damaged > 0 ? `${d.damaged} damaged` : '']
      .filter(Boolean).join(', ')
    const requests = d.requests.map(r => `\n  request ${r.requestid} (${printable(r.owner)}, ${r.status}` +
      `${r.name != null ? `, "${printable(r.name)}"` : ''})`)
    return `${d.root}: ${what} of ${d.blocks} blocks${requests.join('')}\n`
  }
  const count = report.damaged.length === 1 ? '1 DAG is' : `${report.damaged.length} DAGs are`
  const repaired = `Sent ${report.requeued ?? 0} pinned requests back to the queue: when the service starts, ` +
    'it fetches what is missing or damaged from their origins (a DAG no origin has fails, with the reason, ' +
    'and is unpinned then).\n'
  const advice = 'Their blocks can only come back from elsewhere: `pinery verify --repair` sends those requests ' +
    'back to the queue, to be fetched again from their origins when the service starts; or restore the data dir.\n'
  const next = report.requeued != null ? repaired : advice
  return `${head}: ${count} not whole\n${report.damaged.map(dag).join('')}${next}`
}

/**
 * The format key `node/datastore-format.ts` keeps (read here, not exported there: that module is the service's
 * start-up migration). A data dir without it is one an older Pinery wrote, or one never started.
 */
const FORMAT_KEY = '/pinery/format'

/**
 * Why `dataDir` cannot be checked as it is, or undefined. Both read as "checked 0 pinned DAGs: every block is
 * present", exit 0 (walk17): a missing data dir (a mistyped PINERY_DATA_DIR, which opening then created), and
 * one of an older format, whose DAG pins sit in a layout only the service's start moves to the one read here.
 */
export async function uncheckable (dataDir: string): Promise<string | undefined> {
  try {
    await stat(join(dataDir, 'datastore', 'CURRENT'))
  } catch {
    return `${dataDir} holds no Pinery data (no datastore) to check; is PINERY_DATA_DIR right?`
  }
  const datastore = await openDatastore(dataDir)
  let format: number
  try {
    const value = await datastore.db.get(FORMAT_KEY)
    format = value == null ? 1 : Number(new TextDecoder().decode(value))
  } finally {
    await datastore.close()
  }
  if (format >= DATASTORE_FORMAT) return undefined
  return `${dataDir} is in datastore format ${format}, from an older Pinery (or never started), and this build ` +
    `checks format ${DATASTORE_FORMAT}: start the service on it once (it upgrades the data dir at start), ` +
    'stop it, then verify'
}

/** Runs the check on `dataDir`; resolves with the output and the exit code (1 when any DAG is not whole). */
export async function runVerify (
  dataDir: string, repair: boolean, stderr: NodeJS.WritableStream
): Promise<{ report: VerifyReport & { requeued?: number }, code: number }> {
  const why = await uncheckable(dataDir)
  if (why != null) throw new Error(why)
  let said = Date.now()
  const report = await verifyDataDir(dataDir, {
    requeue: repair,
    onProgress: ({ blocks, bytes }) => {
      if (Date.now() - said < PROGRESS_EVERY_MS) return
      said = Date.now()
      stderr.write(`pinery: checked ${blocks} blocks (${formatBytes(bytes)}) so far\n`)
    }
  })
  return { report, code: report.damaged.length > 0 ? 1 : 0 }
}
