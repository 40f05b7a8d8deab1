// Live progress of pins that are queued or pinning. Today this polls the JSON
// API about once a second; it is the one place to switch to server-sent
// events once the server has them.
import { api, query } from './api.js'

const POLL_MS = 1000
const MAX_LIST = 1000

/**
 * Watches requests until each is pinned or failed: onUpdate(pinStatus) is
 * called for each new state. Returns a function that stops watching.
 */
export function watchPins (ids, onUpdate) {
  const watching = new Set(ids)
  let stopped = false
  let timer = null
  const controller = new AbortController()
  const tick = async () => {
    if (stopped || watching.size === 0) return
    // A tab nobody looks at asks nothing; it catches up once shown again.
    if (document.hidden) { timer = setTimeout(tick, POLL_MS); return }
    try {
      // One list of everything still in flight; the ones missing from it have settled.
      const live = await api(`/pins${query({ status: 'queued,pinning', limit: MAX_LIST })}`, { signal: controller.signal })
      const inFlight = new Map(live.results.map(p => [p.requestid, p]))
      const complete = live.count <= live.results.length
      for (const id of [...watching]) {
        let status = inFlight.get(id)
        if (status == null || !complete) {
          try {
            status = await api(`/pins/${encodeURIComponent(id)}`, { signal: controller.signal })
          } catch (err) {
            if (err.status === 404) { watching.delete(id); continue }
            throw err
          }
        }
        if (stopped) return
        if (status.status !== 'queued' && status.status !== 'pinning') watching.delete(id)
        onUpdate(status)
      }
    } catch (err) {
      if (err.name === 'AbortError' || err.status === 401) return
      // A hiccup (server restarting): keep trying.
    }
    if (!stopped && watching.size > 0) timer = setTimeout(tick, POLL_MS)
  }
  timer = setTimeout(tick, POLL_MS)
  return () => {
    stopped = true
    clearTimeout(timer)
    controller.abort()
  }
}
