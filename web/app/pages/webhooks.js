// Webhooks (pins:write): the user's webhooks (an admin's node-wide ones
// marked), and the form that registers one and shows its signing secret
// once. The page does what `pinery webhook add|list|rm|enable|test|deliveries`
// does, through the same routes.
import { api } from '../api.js'
import { copyButton, field, h, message, page, replace } from '../dom.js'
import { webhookCard } from '../webhook-card.js'
import { explain } from './add.js'

// The event types of the API (src/events EVENT_TYPES), in lifecycle order; the API refuses others.
const EVENTS = ['pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted']
const CHECKED = new Set(['pin.pinned', 'pin.failed'])

// A retry window (the server's PINERY_WEBHOOK_DISABLE_AFTER_MS, in seconds) in words: "24 hours", "90 minutes".
function retryWindow (seconds) {
  const [n, unit] = seconds % 86400 === 0 && seconds >= 172800 ? [seconds / 86400, 'day']
    : seconds % 3600 === 0 ? [seconds / 3600, 'hour']
      : seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second']
  return `${n} ${unit}${n === 1 ? '' : 's'}`
}

// Without the window (before the list answered), the sentence stops at the secret.
const introText = (seconds) => 'Pinery POSTs each pin event you choose to these URLs, signed with the webhook\'s ' +
  (seconds == null ? 'secret.'
    : `secret, and retries for up to ${retryWindow(seconds)}; a webhook failing that long is disabled, with the reason.`)

/** A refused target, a bad body or a full list, in words that say what to do. */
function explainCreate (err) {
  if (err.status === 400 && /PINERY_WEBHOOK_ALLOW/.test(err.details ?? '')) {
    return `The server's outbound policy refuses this URL: ${err.details}. Ask whoever runs Pinery if it should be allowed.`
  }
  if (err.status === 400 || err.status === 409) return `Not registered: ${err.details}`
  return explain(err)
}

function secretCard (made, box) {
  const title = h('h2', { tabindex: -1 }, 'Signing secret')
  return h('div', { class: 'secret card', role: 'region', 'aria-label': 'New webhook secret' },
    title,
    h('p', {}, h('strong', {}, `Webhook to ${made.url} registered. `),
      'Copy its signing secret now: you will not see it again. Your receiver checks each request\'s ',
      h('code', {}, 'Pinery-Signature'), ' header with it.'),
    h('p', {}, h('code', { class: 'wrap', dataset: { secret: '' } }, made.secret), copyButton(made.secret, 'Copy secret')),
    h('p', {}, h('button', { type: 'button', onclick: () => box.replaceChildren() }, 'Done, hide it')))
}

function createForm (ctx, reload) {
  const url = h('input', { type: 'url', name: 'url', required: true, maxlength: 2048, placeholder: 'https://ci.example.com/pinery-hook' })
  const boxes = EVENTS.map(e => h('input', { type: 'checkbox', name: 'events', value: e, checked: CHECKED.has(e) }))
  const description = h('input', { type: 'text', name: 'description', maxlength: 1024, placeholder: 'deploy the site when it is pinned' })
  const all = ctx.can('admin') ? h('input', { type: 'checkbox', name: 'all' }) : null
  const error = h('div', { 'aria-live': 'polite' })
  const secretBox = h('div', { 'aria-live': 'polite' })
  const events = h('fieldset', { class: 'events' }, h('legend', {}, 'Events'),
    boxes.map(b => h('label', { class: 'check' }, b, b.value)))
  const form = h('form', { class: 'card new-webhook', 'aria-labelledby': 'new-webhook' },
    h('h2', { id: 'new-webhook' }, 'New webhook'),
    field('URL', url, 'Pinery POSTs each event there, signed. Loopback and private addresses need PINERY_WEBHOOK_ALLOW on the server.'),
    events,
    field('Description (optional)', description),
    all == null ? null : h('p', {}, h('label', { class: 'check' }, all, 'Node-wide: every user\'s events (admin)')),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Add webhook'))
  form.addEventListener('submit', async e => {
    e.preventDefault()
    error.replaceChildren()
    secretBox.replaceChildren()
    const chosen = boxes.filter(b => b.checked).map(b => b.value)
    if (chosen.length === 0) { error.append(message('Choose at least one event to send.')); boxes[0].focus(); return }
    const body = { url: url.value.trim(), events: chosen }
    if (description.value.trim() !== '') body.description = description.value.trim()
    if (all?.checked === true) body.all = true
    const submit = form.querySelector('button[type=submit]')
    submit.disabled = true
    try {
      const made = await api('/webhooks', { method: 'POST', body })
      const card = secretCard(made, secretBox)
      replace(secretBox, card)
      card.querySelector('h2').focus()
      form.reset()
      for (const b of boxes) b.checked = CHECKED.has(b.value)
      reload()
    } catch (err) {
      error.append(message(explainCreate(err)))
    } finally { submit.disabled = false }
  })
  return { form, secretBox }
}

/** Renders the webhooks page. */
export function renderWebhooks (main, ctx) {
  page('Webhooks')
  main.append(h('h1', {}, 'Webhooks'))
  if (!ctx.can('pins:write')) {
    main.append(message(`Webhooks need a token with the pins:write scope; you are signed in with ${ctx.session.scope}. ` +
      'Sign in with another token, or ask for one.', 'info'))
    return
  }
  const intro = h('p', { class: 'muted' }, introText(null))
  const list = h('div', { class: 'webhooks', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading webhooks…'))
  const load = async () => {
    let hooks
    try {
      const answer = await api('/webhooks')
      hooks = answer.results
      if (answer.retry_for_seconds != null) intro.textContent = introText(answer.retry_for_seconds)
    } catch (err) { replace(list, message(explain(err))); return }
    if (hooks.length === 0) replace(list, h('p', { class: 'empty' }, 'No webhooks yet. Add one below to be told when pins change.'))
    else replace(list, hooks.map(w => webhookCard(w, { onChange: load })))
    main.dataset.ready = 'webhooks'
  }
  const { form, secretBox } = createForm(ctx, load)
  main.append(intro, list, form, secretBox)
  load()
}
