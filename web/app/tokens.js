// A table of tokens (a user's devices) with revoke buttons, and the form that
// creates one and shows its secret once. Used by Devices (your own, through
// /tokens) and by Administration (anyone's, through /users/{name}/tokens).
import { api } from './api.js'
import { copyButton, field, h, message, onSubmit, replace, when } from './dom.js'
import { explain } from './pages/add.js'

const SCOPES = ['pins:add', 'pins:read', 'pins:write', 'admin']

/**
 * Renders the token list and creation form into `box`. `base` is the API
 * path ('/tokens' or '/users/NAME/tokens'); `maxScope` the highest scope
 * that may be given; `currentTokenId` marks the signed-in token.
 */
export function tokenManager (box, { base, maxScope, currentTokenId, onRevokedSelf }) {
  const list = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'))
  const label = h('input', { type: 'text', name: 'label', maxlength: 128, placeholder: 'laptop', required: true })
  const allowed = SCOPES.slice(0, SCOPES.indexOf(maxScope) + 1)
  const scope = h('select', { name: 'scope' }, allowed.map(s => h('option', { value: s, selected: s === (allowed.includes('pins:write') ? 'pins:write' : maxScope) }, s)))
  const expires = h('input', { type: 'date', name: 'expires' })
  const error = h('div', { 'aria-live': 'polite' })
  const secretBox = h('div', { 'aria-live': 'polite' })
  const form = h('form', { class: 'inline create-token' },
    field('Label', label), field('Scope', scope), field('Expires (optional)', expires, 'At the end of that day (UTC)'),
    h('button', { type: 'submit', class: 'primary' }, 'Create token'))

  const load = async () => {
    let tokens
    try { tokens = (await api(base)).results } catch (err) { replace(list, message(err.message)); return }
    if (tokens.length === 0) { replace(list, h('p', { class: 'empty' }, 'No tokens. Create one for each device below.')); return }
    replace(list, h('table', { class: 'tokens' },
      h('thead', {}, h('tr', {}, ['Label', 'Scope', 'Created', 'Last used', 'Expires', ''].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, tokens.map(t => h('tr', { dataset: { tokenid: t.id } },
        // The space keeps label and badge two words, also for screen readers ("phone this session").
        h('td', { 'data-label': 'Label' }, t.label ?? '(no label)', t.id === currentTokenId ? [' ', h('span', { class: 'badge' }, 'this session')] : null),
        h('td', { 'data-label': 'Scope' }, t.scope),
        h('td', { 'data-label': 'Created' }, when(t.created)),
        h('td', { 'data-label': 'Last used' }, t.lastUsed != null ? when(t.lastUsed) : 'never'),
        h('td', { 'data-label': 'Expires' }, t.expires != null ? when(t.expires) : 'never'),
        h('td', {}, h('button', {
          type: 'button',
          class: 'danger',
          'aria-label': `Revoke ${t.label ?? t.id}`,
          onclick: async () => {
            const self = t.id === currentTokenId
            if (!confirm(`Revoke the token "${t.label ?? t.id}"?${self ? ' It is the one you are signed in with: you will be signed out.' : ' Devices using it stop working at once.'}`)) return
            try {
              await api(`${base}/${encodeURIComponent(t.id)}`, { method: 'DELETE' })
              if (self && onRevokedSelf != null) { onRevokedSelf(); return }
              // A revoked token's secret and kubo line, still shown, would read as usable.
              if (secretBox.dataset.tokenid === t.id) { secretBox.replaceChildren(); delete secretBox.dataset.tokenid }
              load()
            } catch (err) { error.replaceChildren(message(explain(err))) }
          }
        }, 'Revoke')))))))
  }

  onSubmit(form, async () => {
    error.replaceChildren()
    secretBox.replaceChildren()
    const body = { label: label.value.trim(), scope: scope.value }
    if (expires.value !== '') body.expires = `${expires.value}T23:59:59Z`
    try {
      const made = await api(base, { method: 'POST', body })
      const line = `ipfs pin remote service add pinery ${location.origin} ${made.secret}`
      secretBox.dataset.tokenid = made.id
      const card = h('div', { class: 'secret card', role: 'region', 'aria-label': 'New token', tabindex: -1 },
        h('p', {}, h('strong', {}, `Token for "${made.label ?? ''}" (${made.scope}). `), 'Copy it now: it is shown only this once.'),
        h('p', {}, h('code', { class: 'wrap', dataset: { secret: '' } }, made.secret), copyButton(made.secret, 'Copy token')),
        h('p', {}, 'For kubo on that device:'),
        h('pre', { class: 'cmd' }, line), copyButton(line, 'Copy command'),
        h('p', {}, h('button', { type: 'button', onclick: () => secretBox.replaceChildren() }, 'Done, hide it')))
      replace(secretBox, card)
      // Below the form it may be off screen (a phone): focus brings it into view and reads it out.
      card.focus()
      label.value = ''
      load()
    } catch (err) { error.append(message(explain(err))) }
  })
  replace(box, list, h('h3', {}, 'New token'), form, error, secretBox)
  load()
}
