// One webhook on the Webhooks page: its URL, events, description, state
// (active, failing since, or disabled with the reason), its last delivery,
// and what can be done with it: send a test event, read the last deliveries,
// re-enable a disabled one, delete it (after a confirmation).
import { api } from './api.js'
import { h, message, replace, when } from './dom.js'
import { explain } from './pages/add.js'

const answered = code => code != null && code >= 200 && code < 300

/** One attempt in words: "HTTP 200 in 12 ms" or its error. */
function outcome (a) {
  if (answered(a.status_code)) return `HTTP ${a.status_code} in ${a.latency_ms} ms`
  return `${a.error ?? `HTTP ${a.status_code}`} (after ${a.latency_ms} ms)`
}

function badge (a) {
  const good = answered(a.status_code)
  return h('span', { class: `badge ${good ? 'pinned' : 'failed'}` }, good ? 'delivered' : 'failed')
}

function deliveriesTable (list) {
  if (list.length === 0) return h('p', { class: 'muted' }, 'No delivery attempts yet. Send a test event to try it.')
  return h('table', { class: 'deliveries' },
    h('thead', {}, h('tr', {}, ['Time', 'Event', 'Status', 'Latency', 'Error'].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map(a => h('tr', { dataset: { event: a.event_id } },
      h('td', { 'data-label': 'Time' }, h('time', { datetime: a.time }, when(a.time))),
      h('td', { 'data-label': 'Event' }, h('code', { class: 'wrap' }, a.event_id)),
      h('td', { 'data-label': 'Status' }, badge(a), a.status_code == null ? 'no answer' : String(a.status_code)),
      h('td', { 'data-label': 'Latency', class: 'num' }, `${a.latency_ms} ms`),
      h('td', { 'data-label': 'Error' }, a.error ?? '—')))))
}

function stateOf (w) {
  if (!w.enabled) {
    return h('p', { class: 'state' }, h('span', { class: 'badge failed' }, 'disabled'),
      h('span', { class: 'reason' }, `Why: ${w.disabled_reason ?? 'disabled'}`))
  }
  return h('p', { class: 'state' }, h('span', { class: 'badge pinned' }, 'active'),
    w.failing_since != null ? h('span', { class: 'reason' }, `Failing since ${when(w.failing_since)}; retrying`) : null,
    w.pending !== '0' ? h('small', { class: 'muted' }, ` ${w.pending} waiting to be sent`) : null)
}

/** A card for webhook `w`; `onChange` reloads the list (after a delete or a re-enable). */
export function webhookCard (w, { onChange }) {
  const base = `/webhooks/${encodeURIComponent(w.id)}`
  const last = h('dd', { class: 'last' }, 'Loading…')
  const table = h('div', { 'aria-live': 'polite' })
  const status = h('div', { 'aria-live': 'polite' })
  const label = w.description !== '' ? w.description : w.url

  const refresh = async () => {
    let list
    try { list = (await api(`${base}/deliveries`)).results } catch (err) { replace(last, message(explain(err))); return }
    replace(last, list.length === 0 ? 'none yet' : [badge(list[0]), `${outcome(list[0])}, ${when(list[0].time)}`])
    replace(table, deliveriesTable(list))
  }

  const test = h('button', {
    type: 'button',
    'aria-label': `Send a test event to ${label}`,
    onclick: async () => {
      status.replaceChildren(message('Sending a test event…', 'info'))
      test.disabled = true
      try {
        const r = await api(`${base}/test`, { method: 'POST' })
        const text = r.ok
          ? `Test event ${r.event_id} delivered: HTTP ${r.status_code} in ${r.latency_ms} ms.`
          : `Test event ${r.event_id} was not delivered: ${r.error ?? `HTTP ${r.status_code}`}.`
        replace(status, message(text, r.ok ? 'info' : 'error'))
        status.firstChild.dataset.test = r.ok ? 'ok' : 'failed'
      } catch (err) {
        replace(status, message(explain(err)))
      } finally { test.disabled = false }
      await refresh()
    }
  }, 'Send test event')

  const reenable = async () => {
    status.replaceChildren()
    try {
      await api(base, { method: 'PATCH', body: { enabled: true } })
      onChange()
    } catch (err) { replace(status, message(explain(err))) }
  }
  const enable = w.enabled ? null : h('button', { type: 'button', class: 'primary', 'aria-label': `Re-enable ${label}`, onclick: reenable }, 'Re-enable')

  const remove = h('button', {
    type: 'button',
    class: 'danger',
    'aria-label': `Delete ${label}`,
    onclick: async () => {
      if (!confirm(`Delete the webhook to ${w.url}? It stops receiving events at once; its deliveries are forgotten.`)) return
      status.replaceChildren()
      try {
        await api(base, { method: 'DELETE' })
        onChange()
      } catch (err) { replace(status, message(explain(err))) }
    }
  }, 'Delete')

  const card = h('article', { class: 'card webhook', dataset: { webhook: w.id, state: w.enabled ? 'active' : 'disabled' } },
    h('div', { class: 'heading' },
      h('h3', {}, h('code', { class: 'wrap' }, w.url)),
      w.all ? h('span', { class: 'badge nodewide' }, 'node-wide: every user\'s events') : null),
    w.description !== '' ? h('p', { class: 'description' }, w.description) : null,
    stateOf(w),
    h('dl', { class: 'fields' },
      h('dt', {}, 'Events'), h('dd', {}, w.events.map(e => h('span', { class: 'badge' }, e))),
      h('dt', {}, 'Created'), h('dd', {}, when(w.created)),
      h('dt', {}, 'Last delivery'), last),
    h('div', { class: 'actions' }, enable, test, remove),
    status,
    h('details', { class: 'deliveries' }, h('summary', {}, 'Last deliveries'), table))
  refresh()
  return card
}
