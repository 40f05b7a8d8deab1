// The signed-in user's usage against their quota, as bars.
import { api } from '../api.js'
import { bar, bytes, h, message, needsScope, page, replace } from '../dom.js'

/** The bars of one Usage object. */
export function usageBars (u) {
  const held = u.pins.queued + u.pins.pinning + u.pins.pinned
  return h('div', { class: 'bars' },
    bar('Stored', u.bytes, u.limits.bytes, bytes),
    bar('Pin requests (queued, pinning, pinned)', held, u.limits.pins, n => n.toLocaleString()),
    h('p', { class: 'muted' }, `${u.cids.toLocaleString()} distinct CIDs · ` +
    ['queued', 'pinning', 'pinned', 'failed'].map(s => `${u.pins[s].toLocaleString()} ${s}`).join(' · ')))
}

/** Renders the usage page. */
export function renderUsage (main, ctx) {
  page('Usage')
  if (!ctx.can('pins:read')) { main.append(h('h1', {}, 'Usage'), needsScope('Usage', 'pins:read', ctx.session.scope)); return }
  const box = h('section', { class: 'card', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'))
  main.append(h('h1', {}, `Usage of ${ctx.session.user}`), box)
  api('/usage').then(u => {
    const total = Object.values(u.pins).reduce((a, b) => a + b, 0)
    replace(box, usageBars(u),
      h('h2', {}, 'Pin requests by status'),
      total === 0
        ? h('p', { class: 'empty' }, 'No pins yet. ', h('a', { href: '#/add' }, 'Add one'))
        : h('div', { class: 'bars' }, ['pinned', 'queued', 'pinning', 'failed'].map(s => bar(s, u.pins[s], total, n => n.toLocaleString()))))
  }, err => replace(box, message(err.message)))
}
