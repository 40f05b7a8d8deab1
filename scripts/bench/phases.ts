/**
 * The phases of one pin, for bench:transfer --rtt: which round trips a pin pays that the raw stream
 * does not. Pinery runs at debug log level there; its log already says when each step of the dial
 * happened (libp2p's own lines, routed into Pinery's log by node/component-logger.ts) and, once a pin
 * settles, the job's `fetch timeline` (pins/worker.ts): when the root, the first raw leaf and the last
 * block arrived, when the last block was stored, the blocks made durable and the outcome settled.
 * Every mark is taken as ms after the bench's POST (pino's `time` and the bench's Date.now() share the
 * clock). A build without the timeline line (an older baseline) has only the dial's marks.
 *
 * The libp2p lines matched are those of the installed libp2p 3.3 (upgrader, tcp, connection, identify):
 * a version that rewords them leaves those marks empty (NaN), not wrong.
 */

/** What a Pinery run's log says, in ms after the POST; NaN where the log did not say it. */
export interface PinPhases {
  /** The pin's job started (record written, queue left). */
  job: number
  /** TCP is connected (to the delaying proxy, which accepts at once: no round trip here, one on a real network). */
  tcp: number
  /**
   * The security protocol (Noise) was selected: one multistream-select round trip up to round six; since
   * round seven none (selected optimistically, src/node/lazy-select.ts), the echo is checked later.
   */
  secure: number
  /** Noise XX done on the dialer's side (the muxer comes in Noise's early data, no round trip of its own). */
  noise: number
  /** The connection is upgraded (muxer up). */
  connected: number
  /**
   * Pinery's outbound bitswap stream is negotiated (multistream-select: one round trip up to round six;
   * since round seven the stream is opened with its protocol set at once, "pre-negotiated protocol").
   */
  bitswap: number
  /** The root, the first raw leaf and the last block arrived (verified, before their writes; fetch timeline). */
  root: number
  firstLeaf: number
  lastBlock: number
  /** The last block stored (its file written: writes wait in the file system threads behind later arrivals). */
  lastStored: number
  /** The DAG's blocks made durable (fsync / syncfs), the outcome settled (pin written, record `pinned`). */
  durable: number
  settled: number
}

/** The log lines a run keeps: only those a phase is read from (the rest are dropped as they arrive). */
export function keepLine (line: string): boolean {
  return line.includes('"fetch timeline"') || MARKS.some(m => line.includes(m.text))
}

const MARKS: Array<{ phase: keyof PinPhases, text: string, component?: RegExp }> = [
  { phase: 'tcp', text: 'connection opened /', component: /^libp2p:tcp$/ },
  { phase: 'secure', text: 'encrypting outbound connection using' },
  { phase: 'noise', text: 'create muxer' },
  { phase: 'connected', text: 'successfully upgraded' },
  { phase: 'bitswap', text: 'negotiated protocol /ipfs/bitswap/', component: /:outbound:/ }
]

interface LogLine { time: number, msg: string, component?: string, [key: string]: unknown }

/** Reads the phases from a run's kept log lines (JSON), with `postedAt` the epoch ms of the POST. */
export function pinPhases (lines: string[], postedAt: number): PinPhases {
  const parsed = lines.flatMap(l => { try { return [JSON.parse(l) as LogLine] } catch { return [] } })
  const phases: PinPhases = {
    job: NaN, tcp: NaN, secure: NaN, noise: NaN, connected: NaN, bitswap: NaN, root: NaN, firstLeaf: NaN,
    lastBlock: NaN, lastStored: NaN, durable: NaN, settled: NaN
  }
  for (const mark of MARKS) {
    const line = parsed.find(l => l.msg.includes(mark.text) && (mark.component?.test(l.component ?? '') ?? true))
    if (line != null) phases[mark.phase] = line.time - postedAt
  }
  const timeline = parsed.find(l => l.msg === 'fetch timeline')
  const startedAt = timeline?.startedAt
  if (timeline != null && typeof startedAt === 'number') {
    phases.job = startedAt - postedAt
    const at = (key: string): number => typeof timeline[key] === 'number' ? startedAt + timeline[key] - postedAt : NaN
    phases.root = at('rootMs')
    phases.firstLeaf = at('firstLeafMs')
    phases.lastBlock = at('lastBlockMs')
    phases.lastStored = at('lastStoredMs')
    phases.durable = at('durableMs')
    phases.settled = at('settledMs')
  }
  return phases
}

/** MiB/s from the first leaf to the last block (or byte): the data phase alone, no round trips before it. */
export function steadyMibs (mib: number, firstMs: number, lastMs: number, firstMib = 0.25): number {
  return (mib - firstMib) / ((lastMs - firstMs) / 1000)
}

/** The raw stream's phases, in ms after its dial (scripts/bench/peer.ts raw). */
export interface RawPhases { connectedMs: number, streamMs: number, firstByteMs: number, ms: number }
