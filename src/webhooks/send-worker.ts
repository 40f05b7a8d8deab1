/**
 * The delivery worker's thread: it only executes the POSTs the outbox decided
 * on (sender.ts) and answers with each attempt's result. Signing, the
 * HTTP/1.1 client and answer parsing run here, at the lowest CPU priority, so
 * they take only core time that pinning leaves idle. The target policy is
 * built again here from the same settings, so every connection still goes
 * through its checked lookup.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { prepare, sendTo, type AttemptResult, type Target } from './deliver.js'
import { createTargetPolicy, type TargetPolicyInit } from './target-policy.js'
import { ANSWER_FIELDS, SEND_FIELDS, type Answers, type ToWorker } from './sender.js'

const port = parentPort
if (port == null) throw new Error('send-worker.ts runs in a worker thread')
const { policy: policyInit, nice } = workerData as { policy: TargetPolicyInit, nice: number }
// This thread's own id (Linux: /proc/thread-self is "<pid>/task/<tid>"); niceness is per thread there.
try { setPriority(Number(readlinkSync('/proc/thread-self').split('/').at(-1)), nice) } catch {}
const policy = createTargetPolicy(policyInit)
const targets = new Map<number, Target>()
let nums: number[] = []
let errors: Array<[number, string]> = []

function answer (id: number, r: AttemptResult): void {
  if (nums.length === 0) setImmediate(flush)
  if (r.error != null) errors.push([nums.length / ANSWER_FIELDS, r.error])
  nums.push(id, r.ok ? 1 : 0, r.status ?? 0, r.latencyMs)
}

/** One message per turn carries every result that arrived in it. */
function flush (): void {
  const m: Answers = { nums: new Float64Array(nums), errors }
  nums = []
  errors = []
  port?.postMessage(m, [m.nums.buffer])
}

port.on('message', (m: ToWorker) => {
  for (const [id, url, secret] of m.targets) targets.set(id, prepare(url, secret, policy))
  const bytes = new Uint8Array(m.bytes)
  const n = m.sends
  for (let i = 0; i < n.length; i += SEND_FIELDS) {
    const id = n[i] as number
    const target = targets.get(n[i + 1] as number)
    if (target == null) { answer(id, { ok: false, latencyMs: 0, error: 'unknown target' }); continue }
    const offset = n[i + 3] as number
    sendTo(target, {
      eventId: String(n[i + 2]),
      body: bytes.subarray(offset, offset + (n[i + 4] as number)),
      timeoutMs: n[i + 5] as number,
      alone: n[i + 6] === 1
    }, r => { answer(id, r) })
  }
})
