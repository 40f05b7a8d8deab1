// How a pin's state reads: a status badge, and for queued/pinning requests
// the queue position or the blocks and bytes fetched, with a progress bar, and
// what became of the request's origins.
import { bytes, h } from './dom.js'

/** The status as a labelled badge. */
export function statusBadge (status) {
  return h('span', { class: `badge ${status}`, dataset: { status } }, status)
}

/**
 * What `info.status_details` says, made readable. The API does not give a
 * DAG's total size before it is pinned, so a fetch shows an indeterminate
 * bar with the bytes so far; the queue shows how far along it is.
 */
export function progressOf (p) {
  const details = p.info?.status_details
  if (p.status === 'failed') return h('span', { class: 'reason' }, details ?? 'failed')
  if (p.status === 'pinned') return null
  const queue = /^queue position (\d+) of (\d+)$/.exec(details ?? '')
  if (queue != null) {
    const [at, of] = [Number(queue[1]), Number(queue[2])]
    return h('span', { class: 'progress' }, h('small', {}, at === 1 ? `next in the queue (${of} waiting)` : `queue position ${at} of ${of}`))
  }
  // After "; " the API says what became of the request's origins (refused, nothing listening, …): its own line.
  const [main = '', origins] = (details ?? '').split(/; (.*)/s)
  const note = origins == null ? [] : [h('small', { class: 'origins' }, origins)]
  // "saving …": every block is here, and they are being made durable before the pin is reported.
  const fetched = /^(fetched|saving) (\d+) blocks?, (\d+) bytes?$/.exec(main)
  if (fetched != null || main === 'looking for a peer that has it') {
    const blocks = Number(fetched?.[2] ?? 0)
    const saving = fetched?.[1] === 'saving' ? ', saving' : ''
    // No block yet: "0 blocks, 0 B fetched" left a person wondering whether anything happens at all.
    const text = blocks === 0 && saving === ''
      ? 'no block yet: looking for a peer that has it'
      : `${blocks.toLocaleString()} block${blocks === 1 ? '' : 's'}, ${bytes(Number(fetched?.[3]))} fetched${saving}`
    return h('span', { class: 'progress' }, h('progress', { 'aria-label': 'fetching' }), h('small', {}, text), ...note)
  }
  return h('span', { class: 'progress' }, h('progress', { 'aria-label': p.status }), h('small', {}, main || p.status), ...note)
}

/** True while a request may still change on its own. */
export function inFlight (p) {
  return p.status === 'queued' || p.status === 'pinning'
}

const recent = new Map()

/** Keeps a PinStatus the page just got (a pins:add token cannot read it back). */
export function remember (status) {
  recent.set(status.requestid, status)
}

/** A PinStatus remembered by {@link remember}. */
export function recalled (requestid) {
  return recent.get(requestid)
}
