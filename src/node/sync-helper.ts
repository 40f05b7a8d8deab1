/**
 * syncfs(2) for DurableFsBlockstore through one long-lived helper process (a path per line on its stdin, the
 * exit status back on its stdout), instead of Node spawning `sync` for every sync. A spawn from Node forks the
 * whole service: ~9 ms of the main thread's CPU per `sync -f` at 300 MiB of heap against ~0 through the helper
 * (/tmp micro-benchmark, RESULTS.md round nine), paid once per large pin. The helper is started with the
 * blockstore, while the heap is small, and ends when its stdin closes (the blockstore's close, the service's exit
 * or a kill: `read` then fails); if it dies, the next request starts another. Node has no syncfs binding.
 *
 * Where perl is installed (perl-base is Essential on Debian and Ubuntu) the helper is perl, making the syscall
 * itself on a descriptor of each path opened at its first request and kept. Linux samples a file system's
 * writeback error report per open file (errseq, since 5.8) and marks it seen at the first syncfs that reports
 * it: `sync -f`, which opens the path anew each time, returned 0 after another process's `sync -f` of the same
 * file system had taken the report (measured on this machine's 6.18 kernel, a real ext4 whose writeback failed:
 * RESULTS.md round fifteen; test/node/syncfs-report.test.ts). A descriptor kept since the first request sees
 * every error since then, whoever else saw it. Elsewhere (no perl, an architecture not listed) `sh` runs
 * `sync -f` per request, as before.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'

/** Runs syncfs of a path's file system; resolves false where it is not available or failed. */
export interface SyncHelper {
  /** Whether syncfs exists here at all (Linux): false means every request resolves false. */
  readonly available: boolean
  syncfs(path: string): Promise<boolean>
  /** Ends the helper (pending requests resolve false). */
  close(): void
}

/** syncfs's number where perl's syscall() can make it (the generic table's 267 for the newer architectures). */
const SYNCFS_NR: Partial<Record<NodeJS.Architecture, number>> = { x64: 306, arm64: 267, riscv64: 267 }

/** Per request line: syncfs of a descriptor of the path kept from its first request; "0" or "1" back. */
const PERL = '$| = 1; my $nr = shift; my %fd; while (my $p = <STDIN>) { chomp $p; ' +
  'if (!$fd{$p}) { if (!open($fd{$p}, "<", $p)) { delete $fd{$p}; print "1\\n"; next } } ' +
  'print syscall($nr, fileno($fd{$p})) == 0 ? "0\\n" : "1\\n" }'

/** perl when there is one and the number is known ($1), else `sync -f` per request. */
const SCRIPT = 'if [ -n "$1" ] && command -v perl >/dev/null 2>&1; then exec perl -e "$2" "$1"; fi; ' +
  'while IFS= read -r p; do if sync -f "$p"; then echo 0; else echo 1; fi; done'

/** Starts the helper on Linux; elsewhere (no `sync -f`) every request resolves false. */
export function createSyncHelper (): SyncHelper {
  if (process.platform !== 'linux') return { available: false, syncfs: async () => false, close: () => {} }
  let child: ChildProcess | undefined
  const waiting: Array<(ok: boolean) => void> = []
  let out = ''

  function start (): ChildProcess | undefined {
    let c: ChildProcess
    try {
      const nr = String(SYNCFS_NR[process.arch] ?? '')
      c = spawn('sh', ['-c', SCRIPT, 'sh', nr, PERL], { stdio: ['pipe', 'pipe', 'ignore'] })
    } catch {
      return undefined
    }
    const gone = (): void => {
      if (child === c) child = undefined
      for (const resolve of waiting.splice(0)) resolve(false)
    }
    c.on('error', gone)
    c.on('exit', gone)
    c.stdin?.on('error', () => {})
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        const line = out.slice(0, i)
        out = out.slice(i + 1)
        waiting.shift()?.(line === '0')
      }
      if (waiting.length === 0) idle(c)
    })
    idle(c)
    return c
  }

  /** Idle, the helper does not keep the process alive. */
  function idle (c: ChildProcess): void {
    c.unref()
    ;(c.stdout as unknown as { unref?: () => void } | null)?.unref?.()
  }

  child = start()
  return {
    available: true,
    async syncfs (path) {
      // A path the line protocol cannot carry goes the old way.
      if (path.includes('\n')) {
        return await new Promise(resolve => { execFile('sync', ['-f', path], (err) => { resolve(err == null) }) })
      }
      child ??= start()
      const c = child
      if (c?.stdin == null || c.stdout == null) return false
      c.ref()
      ;(c.stdout as unknown as { ref?: () => void }).ref?.()
      return await new Promise<boolean>(resolve => {
        waiting.push(resolve)
        c.stdin?.write(`${path}\n`)
      })
    },
    close () {
      child?.stdin?.end()
      child = undefined
    }
  }
}
