/**
 * V8 settings the service starts with (src/server.ts applies them before anything is loaded).
 *
 * `--external-memory-accounted-in-global-limit`: by default V8 starts a full mark-compact of the
 * whole heap each time ~64 MB of memory outside it (ArrayBuffers: socket reads, decrypted Noise
 * frames, block data) has been allocated since the last one, however little of it is alive. A pin
 * receives every byte about three times over in such buffers, so a 256 MiB pin ran ~13 full
 * collections of Pinery's ~50 MB heap. With the flag, outside memory counts towards V8's one global
 * limit, which grows with the heap like the rest. Measured (scripts/bench/RESULTS.md, round five):
 * V8's GC threads 0.93–1.02 → 0.31–0.36 CPU-s per 256 MiB pin, the main thread 0.74–0.85 → 0.62–0.69;
 * with both flags bench:transfer's receiver costs 13–27 % less CPU per byte than without (1 GiB: 2.40×
 * → 1.77× the raw stream's). The price is memory while data flows: peak RSS +35–90 MiB in pins, up to
 * +70 MiB in uploads (bounded: the same for 512 MiB as for 64); the 1M-record restart's RSS and time
 * are unchanged.
 *
 * `--heap-growing-percent=100`: the next GC comes when the heap and that outside memory have at most
 * doubled, instead of V8's own factor of up to 4×. Alone, the first flag let one 1 GiB pin peak at
 * 632 MiB (the others 406 and 400); with this cap 424 / 410 / 402, at no more CPU (6.45 against 7.16
 * CPU-s/GiB).
 *
 * `--no-allocation-site-pretenuring`: V8 watches which allocation sites' objects survive young
 * collections and, past a threshold, allocates that site's objects straight into the old generation.
 * Once 32 or more GET /events streams are open (long-lived request and response objects) when pinning
 * starts, a few of Node's and Express's HTTP request sites tip over, and every later POST /pins
 * request's objects are born old. bench:events (round nine, 10,000 pins, 3 webhooks and 50 streams,
 * 5 rounds side by side): promoted to the old generation 17 against 105 MB, young collections 210
 * against 303 ms, Pinery's CPU until settled 9.6 against 10.0 s (without notifications: 16 MB either
 * way). The 1M-record start is unchanged (from the index snapshot 2.2–2.3 s either way).
 */

/**
 * Flags the service turns on unless the operator's command line names them, either way
 * (`node --no-external-memory-accounted-in-global-limit dist/server.js`; Node refuses V8 flags like
 * these in NODE_OPTIONS).
 */
const DEFAULTS = [
  '--external-memory-accounted-in-global-limit', '--heap-growing-percent=100', '--no-allocation-site-pretenuring'
]

/**
 * The flags to set in this process: each default the operator has not set or unset, on Node ≥ 24
 * only (the V8 it was measured on; older V8s print an error for a flag they do not know).
 */
export function defaultV8Flags (execArgv: string[], nodeMajor: number): string[] {
  if (nodeMajor < 24) return []
  // V8 reads `_` and `-` alike in flag names.
  const name = (flag: string): string | undefined => flag.replace(/^--(no[-_])?/, '').split('=')[0]?.replace(/_/g, '-')
  const given = execArgv.map(name)
  return DEFAULTS.filter(flag => !given.includes(name(flag)))
}
