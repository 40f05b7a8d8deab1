// Sign in by pasting a token: it goes to POST /session in a JSON body and
// comes back as an HttpOnly cookie; the page never stores it.
import { api, keepSessionKey } from '../api.js'
import { field, h, message, onSubmit, page } from '../dom.js'

// The operator's first visit comes right after the first start: where that first token is, said here.
const HINT = 'Paste a token from your admin or from "pinery token create"; the very first one is the admin token ' +
  'Pinery printed when it first started (also in its data dir, in admin-token). It becomes a session cookie; ' +
  'this page never keeps it.'

/** Why the page is signed out; the server's reason often says itself that the session ended. */
function ended (reason) {
  return /^the session /.test(reason) ? `${reason[0].toUpperCase()}${reason.slice(1)}.` : `Your session ended: ${reason}`
}

/** Renders the sign-in form. */
export function renderSignIn (main, { onSignedIn, reason }) {
  page('Sign in')
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false' })
  const error = h('div', { 'aria-live': 'polite' })
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Pinery'),
    reason != null && reason !== '' ? message(ended(reason), 'info') : null,
    field('Access token', input, HINT),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'))
  onSubmit(form, async () => {
    error.replaceChildren()
    try {
      const session = await api('/session', { method: 'POST', body: { token: input.value }, signIn: true })
      input.value = ''
      keepSessionKey(session.session_key)
      onSignedIn(session)
    } catch (err) {
      error.append(message(err.status === 401 ? `That token was refused: ${err.details}` : err.message))
      input.focus()
    }
  })
  main.append(form)
  input.focus()
}
