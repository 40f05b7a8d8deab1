/**
 * A fetch's stall clock: the time without a block that fails it (PINERY_STALL_TIMEOUT_MS), counted while the
 * fetch waits for peers, not while its block requests all wait for a slot of the fetch limiter (Pinery's own
 * queue, shared by every fetch). Counted from the fetch's start, a pin whose origin had every block failed with
 * "no connected peer provided the next block" behind its owner's fetches that stalled, its requests never sent
 * (test/pins/fetch-lanes.test.ts). Everything else counts as before: the time before the first request, the
 * writes after the last block, a re-want's pause.
 */
import type { Semaphore, SharedLane } from './semaphore.js'

/** The clock of one fetch. */
export interface StallClock {
  /** A block arrived: the silence starts over. */
  progressed(): void
  /** `lane` for the fetch's walk, its waits and slots told to the clock. */
  limiter(lane: SharedLane): Semaphore
  /** Stops the clock for good. */
  stop(): void
}

/** Starts a clock that calls `onStall` after `ms` of silence. */
export function createStallClock (ms: number, onStall: () => void): StallClock {
  let timer: NodeJS.Timeout | undefined
  let left = ms
  let since = 0
  let paused = false
  let waiting = 0 // block requests waiting for a slot
  let out = 0 // block requests holding one

  function arm (after: number): void {
    clearTimeout(timer)
    since = Date.now()
    left = after
    timer = setTimeout(onStall, after)
  }

  /** Paused while requests wait for a slot and none holds one. */
  function update (): void {
    const pause = waiting > 0 && out === 0
    if (pause === paused) return
    paused = pause
    if (!pause) { arm(left); return }
    clearTimeout(timer)
    left -= Date.now() - since
  }

  arm(ms)
  return {
    progressed () {
      if (paused) left = ms
      else arm(ms)
    },
    limiter (lane) {
      return {
        async acquire (signal) {
          // A free slot is taken at once, with no pause (the clock's timer untouched: bench:many's pins).
          if (!lane.tryAcquire()) {
            waiting++
            update()
            // Given up (aborted): the clock runs again unless others still wait.
            try { await lane.acquire(signal) } catch (err) { waiting--; update(); throw err }
            waiting--
          }
          out++
          update()
        },
        release () {
          lane.release()
          out--
          update()
        }
      }
    },
    stop () { clearTimeout(timer) }
  }
}
