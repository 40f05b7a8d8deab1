// Live progress of pins that are queued or pinning: the server's event stream
// (GET /events, Server-Sent Events, with the session cookie), and polling of
// the JSON API about once a second where the stream cannot be had.
import { api, keyed, query } from './api.js'

const POLL_MS = 1000
const MAX_LIST = 1000
const EVENT_TYPES = ['pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted']

/**
 * Watches requests until each is pinned or failed: onUpdate(pinStatus) is
 * called for each new state. Returns a function that stops watching.
 */
export function watchPins (ids, onUpdate) {
  const watching = new Set(ids)
  if (watching.size === 0 || typeof EventSource !== 'function') return pollPins(watching, onUpdate)
  let stopPolling = null
  const source = new EventSource(keyed('/events'))
  const stop = () => { source.close(); if (stopPolling != null) stopPolling() }
  const onEvent = (evt) => {
    const event = JSON.parse(evt.data)
    const status = event.pin
    if (status == null || !watching.has(status.requestid)) return
    if (event.type === 'pin.deleted' || event.type === 'pin.replaced') { watching.delete(status.requestid); return }
    if (status.status !== 'queued' && status.status !== 'pinning') watching.delete(status.requestid)
    onUpdate(status)
    if (watching.size === 0) stop()
  }
  for (const type of EVENT_TYPES) source.addEventListener(type, onEvent)
  // What changed between the page's own read and the stream's start: one read of each, once open.
  source.addEventListener('open', () => {
    for (const id of [...watching]) {
      api(`/pins/${encodeURIComponent(id)}`).then(status => {
        if (!watching.has(id)) return
        if (status.status !== 'queued' && status.status !== 'pinning') watching.delete(id)
        onUpdate(status)
        if (watching.size === 0) stop()
      }, () => {})
    }
  }, { once: true })
  // No stream (refused, or the server cut it): fall back to polling what is still watched.
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED || stopPolling != null) return
    stopPolling = pollPins(watching, onUpdate)
  })
  return stop
}

/** Polls the JSON API for `watching` (a Set it empties as requests settle). */
function pollPins (watching, onUpdate) {
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
