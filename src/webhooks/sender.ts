/**
 * Runs the outbox's POSTs in one worker thread (send-worker.ts) at the lowest
 * CPU priority (nice 19). The outbox keeps deciding (durable state, retries,
 * order, disabling, the deliveries log); the worker only signs, sends and
 * reads answers, and returns each AttemptResult. Sends are batched per turn
 * both ways: one message carries every send of a turn (their bodies packed
 * into one transferred buffer, an event's bytes once however many webhooks it
 * goes to) and one message every result of a turn.
 *
 * Why, with a measurement: the event loop is the pin path's one serial stage,
 * and on a machine whose cores are busy it also waits for a core (bench:events,
 * 2 cores: the main thread waited 2.3 s for a core in a 7.2 s run without
 * notifications). Round six (RESULTS.md) ran these POSTs in a worker at the
 * same priority: no gain, the worker took the core the pin path needed. At
 * nice 19 it takes only core time nothing else wants: deliveries lag more
 * under a burst, pinning does not wait for them (round ten, RESULTS.md).
 *
 * A worker that dies fails its sends in flight (the outbox retries them) and
 * the next send starts another. Aborting `signal` terminates it for good:
 * sends in flight and later ones resolve as cancelled.
 */
import { Worker } from 'node:worker_threads'
import type { AttemptResult } from './deliver.js'
import type { TargetPolicyInit } from './target-policy.js'

/** A webhook's URL and secret, known to the worker by `id` (it prepares and checks them there). */
export interface SendTarget { id: number, url: string, secret: string }

/** One event to send (as deliver.ts's Send, without a signal: the sender's own signal cancels). */
export interface WorkerSend { eventId: number, body: Uint8Array, timeoutMs: number, alone?: boolean }

/** Numbers per send in a batch: id, target, event id, offset and length in `bytes`, timeout, alone (1/0). */
export const SEND_FIELDS = 7
/** Numbers per result: send id, ok (1/0), status (0: none), latency ms. */
export const ANSWER_FIELDS = 4

/**
 * A batch to the worker: targets it has not seen, then the sends as numbers and their bodies in one buffer
 * (both transferred). Numbers, not an object per send: structured clone of arrays of arrays cost the main
 * thread ~6 µs per POST in bench:webhook-cost (round six), flat buffers a fraction of it.
 */
export interface ToWorker {
  targets: Array<[number, string, string]>
  sends: Float64Array<ArrayBuffer>
  bytes: ArrayBuffer
}

/** Results from the worker: `ANSWER_FIELDS` numbers each, and the errors of those that have one by index. */
export interface Answers { nums: Float64Array<ArrayBuffer>, errors: Array<[number, string]> }

/** The delivery thread's niceness: the lowest priority (it runs when the cores are otherwise idle). */
export const DELIVERY_NICE = 19

/** The delivery thread's name (as /proc/<pid>/task/<tid>/comm shows it, at most 15 characters). */
export const DELIVERY_THREAD = 'pinery-webhooks'

/** What the sender is given. */
export interface SenderInit {
  /** The target policy's settings: the worker builds the same policy from them. */
  policy: TargetPolicyInit
  /** Stops the sender for good. */
  signal: AbortSignal
}

/** Executes sends off the pinning thread. */
export interface Sender {
  /** A target for `url` and `secret` (prepared in the worker at its first send). */
  target(url: string, secret: string): SendTarget
  /** POSTs through the worker and calls `done` with the attempt's result (never with an error). */
  post(target: SendTarget, s: WorkerSend, done: (r: AttemptResult) => void): void
  /** `post` as a promise. */
  send(target: SendTarget, s: WorkerSend): Promise<AttemptResult>
  /** Ends the worker (its sends in flight fail; the outbox retries them); the next send starts another. */
  restart(): Promise<void>
  /** Resolves once the worker has ended (after `signal` aborted). */
  stopped(): Promise<void>
}

const WORKER = import.meta.url.endsWith('.ts')
  ? { url: new URL('./send-worker.ts', import.meta.url), execArgv: ['--import', 'tsx'] }
  : { url: new URL('./send-worker.js', import.meta.url), execArgv: [] }

interface Queued { id: number, target: SendTarget, s: WorkerSend }
interface Running { worker: Worker, known: Set<number>, ended: Promise<void> }

/** Creates the sender; its worker starts at the first send. */
export function createSender (init: SenderInit): Sender {
  let nextTarget = 0
  let nextSend = 0
  let running: Running | undefined
  let queue: Queued[] = []
  const pending = new Map<number, (r: AttemptResult) => void>()
  const failAll = (error: string): void => {
    const callbacks = [...pending.values()]
    pending.clear()
    for (const done of callbacks) done({ ok: false, latencyMs: 0, error })
  }

  function start (): Running {
    const worker = new Worker(WORKER.url, {
      workerData: { policy: init.policy, nice: DELIVERY_NICE },
      execArgv: WORKER.execArgv,
      name: DELIVERY_THREAD
    })
    worker.unref()
    worker.on('message', ({ nums, errors }: Answers) => {
      const failures = new Map(errors)
      for (let i = 0, k = 0; i < nums.length; i += ANSWER_FIELDS, k++) {
        const id = nums[i] as number
        const done = pending.get(id)
        if (done == null) continue
        pending.delete(id)
        const r: AttemptResult = { ok: nums[i + 1] === 1, latencyMs: nums[i + 3] as number }
        if (nums[i + 2] !== 0) r.status = nums[i + 2] as number
        const error = failures.get(k)
        if (error != null) r.error = error
        done(r)
      }
    })
    worker.on('error', () => {})
    const ended = new Promise<void>(resolve => {
      worker.once('exit', () => {
        if (running?.worker === worker) { running = undefined; failAll('the delivery worker stopped') }
        resolve()
      })
    })
    return { worker, known: new Set(), ended }
  }

  function flush (): void {
    const batch = queue
    queue = []
    if (init.signal.aborted || batch.length === 0) return
    running ??= start()
    const { worker, known } = running
    const offsets = new Map<Uint8Array, number>()
    let size = 0
    for (const { s } of batch) if (!offsets.has(s.body)) { offsets.set(s.body, size); size += s.body.byteLength }
    const bytes = new Uint8Array(size)
    for (const [body, offset] of offsets) bytes.set(body, offset)
    const m: ToWorker = { targets: [], sends: new Float64Array(batch.length * SEND_FIELDS), bytes: bytes.buffer }
    let i = 0
    for (const { id, target, s } of batch) {
      if (!known.has(target.id)) { known.add(target.id); m.targets.push([target.id, target.url, target.secret]) }
      const n = m.sends
      n[i] = id; n[i + 1] = target.id; n[i + 2] = s.eventId; n[i + 3] = offsets.get(s.body) ?? 0
      n[i + 4] = s.body.byteLength; n[i + 5] = s.timeoutMs; n[i + 6] = s.alone === true ? 1 : 0
      i += SEND_FIELDS
    }
    worker.postMessage(m, [m.bytes, m.sends.buffer])
  }

  init.signal.addEventListener('abort', () => {
    queue = []
    failAll('cancelled')
    void running?.worker.terminate()
  }, { once: true })

  const post: Sender['post'] = (target, s, done) => {
    if (init.signal.aborted) { done({ ok: false, latencyMs: 0, error: 'cancelled' }); return }
    const id = nextSend++
    if (queue.length === 0) setImmediate(flush)
    queue.push({ id, target, s })
    pending.set(id, done)
  }

  return {
    target: (url, secret) => ({ id: nextTarget++, url, secret }),
    post,
    send: async (target, s) => await new Promise(resolve => { post(target, s, resolve) }),
    async restart () { await running?.worker.terminate() },
    async stopped () { await running?.ended }
  }
}
