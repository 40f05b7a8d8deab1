// Live progress of pins that are queued or pinning: the server's event stream
// (GET /events, Server-Sent Events, with the session cookie), and polling of
// the JSON API about once a second where the stream cannot be had.
import { api, query, withKey } from './api.js'

const POLL_MS = 1000
const MAX_LIST = 1000
const EVENT_TYPES = ['pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted']

/**
 * Watches requests until each is pinned or failed: onUpdate(pinStatus) is
 * called for each new state. Returns a function that stops watching.
 */
export function watchPins (ids, onUpdate) {
  const watching = new Set(ids)
  if (watching.size === 0 || typeof ReadableStream !== 'function') return pollPins(watching, onUpdate)
  let stopPolling = null
  const controller = new AbortController()
  const stop = () => { controller.abort(); if (stopPolling != null) stopPolling() }
  const onEvent = (type, data) => {
    if (!EVENT_TYPES.includes(type)) return
    const event = JSON.parse(data)
    const status = event.pin
    if (status == null || !watching.has(status.requestid)) return
    if (event.type === 'pin.deleted' || event.type === 'pin.replaced') { watching.delete(status.requestid); return }
    if (status.status !== 'queued' && status.status !== 'pinning') watching.delete(status.requestid)
    onUpdate(status)
    if (watching.size === 0) stop()
  }
  // What changed between the page's own read and the stream's start: one read of each, once open.
  const onOpen = () => {
    for (const id of [...watching]) {
      api(`/pins/${encodeURIComponent(id)}`).then(status => {
        if (!watching.has(id)) return
        if (status.status !== 'queued' && status.status !== 'pinning') watching.delete(id)
        onUpdate(status)
        if (watching.size === 0) stop()
      }, () => {})
    }
  }
  follow(controller.signal, onOpen, onEvent, () => watching.size > 0).then(() => {
    if (controller.signal.aborted || stopPolling != null || watching.size === 0) return
    stopPolling = pollPins(watching, onUpdate)
  })
  return stop
}

/**
 * Reads the stream again a second after it ends, as EventSource did (a proxy's idle timeout, a restart of the
 * service); each new stream reads the watched requests once more (onOpen), so nothing between two streams is
 * missed. Resolves (the caller then polls) when the stream is refused, or fails to open three times in a row.
 */
async function follow (signal, onOpen, onEvent, wanted) {
  for (let failures = 0; failures < 3 && !signal.aborted && wanted();) {
    let opened = false
    try {
      await readEvents(signal, () => { opened = true; failures = 0; onOpen() }, onEvent)
    } catch (err) {
      if (err instanceof Refused) return
      if (!opened) failures++
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/** The server answered the stream with an error: reading it again would be answered the same. */
class Refused extends Error {}

/**
 * Reads GET /events with fetch(), the session's key in its header, calling onOpen() once it answers and
 * onEvent(type, data) for each event; resolves when the stream ends. Not EventSource: it cannot send a header,
 * so its URL carried the key (`?session_key=`), which a key must not (proxy and access logs keep URLs), and the
 * server no longer takes one there. The read is as safe against other sites as before: the cookie is
 * SameSite=Strict and no CORS answer grants another origin credentials, so no other page can read the stream;
 * the server also refuses a stream another origin starts (Sec-Fetch-Site, auth.ts's pageOnly).
 */
async function readEvents (signal, onOpen, onEvent) {
  const res = await fetch('/events', { headers: withKey({ accept: 'text/event-stream' }), cache: 'no-store', signal })
  if (!res.ok || res.body == null) throw new Refused(`GET /events answered ${res.status}`)
  onOpen()
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    text += value
    // Frames end with a blank line; fields are `name: value` lines (`:` starts a comment, such as a heartbeat).
    for (let end = text.search(/\r?\n\r?\n/); end >= 0; end = text.search(/\r?\n\r?\n/)) {
      const frame = text.slice(0, end)
      text = text.slice(end).replace(/^\r?\n\r?\n/, '')
      let type = 'message'
      const data = []
      for (const line of frame.split(/\r?\n/)) {
        const colon = line.indexOf(':')
        if (colon === 0) continue
        const field = colon < 0 ? line : line.slice(0, colon)
        const content = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') type = content
        else if (field === 'data') data.push(content)
      }
      if (data.length > 0) onEvent(type, data.join('\n'))
    }
  }
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
