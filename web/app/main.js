// The page: who is signed in, the menu their scope allows, and a hash router
// (#/pins, #/pins/<id>, #/add, #/devices, #/webhooks, #/usage, #/admin).
import { api, keepSessionKey, onSessionKeyChanged, onSignedOut } from './api.js'
import { h, message, replace } from './dom.js'
import { renderSignIn } from './pages/signin.js'
import { listPath, renderPins } from './pages/pins.js'
import { renderDetail } from './pages/detail.js'
import { renderAdd } from './pages/add.js'
import { renderDevices } from './pages/devices.js'
import { renderUsage } from './pages/usage.js'
import { renderAdmin } from './pages/admin.js'

const SCOPES = ['pins:add', 'pins:read', 'pins:write', 'admin']
const main = document.getElementById('main')
let session = null
let cleanup = null
let prefetch = null
let routed = 0 // counts route() calls: a page loaded late renders only if no other was opened meanwhile
// The page last shown (its hash without the query; 'signin' for the sign-in form). When another opens, focus
// moves to its content: else a keyboard user stays on the menu link (or, after signing in, on nothing) and a
// screen reader does not read the new page. So it does when a new query re-draws the same page (the pins'
// Search) under the focused field: the next Tab then goes on in the page, not from the top of the document.
let shownPath = null

/** True when the signed-in token's scope includes `need`. */
function can (need) {
  return session != null && SCOPES.indexOf(session.scope) >= SCOPES.indexOf(need)
}

function parseHash () {
  const raw = location.hash.replace(/^#/, '') || '/'
  const [path, search = ''] = raw.split('?')
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search) }
}

/** Goes to a page (a hash like '#/pins/ID'). */
export function navigate (hash, { replace: swap = false } = {}) {
  if (location.hash === hash) { route(); return }
  if (swap) { history.replaceState(null, '', hash); route() } else location.hash = hash
}

function showChrome () {
  const nav = document.getElementById('nav')
  nav.hidden = session == null
  for (const a of nav.querySelectorAll('a')) a.hidden = !can(a.dataset.scope)
  document.getElementById('who').hidden = session == null
  replace(document.getElementById('who-name'), session == null ? '' : `${session.user} · ${session.scope} token`)
  const here = `#/${parseHash().parts[0] ?? ''}`
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === here) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

function signedIn (s) {
  session = s
  const { parts } = parseHash()
  if (parts.length === 0 || parts[0] === 'signin') navigate(can('pins:read') ? '#/pins' : '#/add', { replace: true })
  else route()
}

/**
 * A page whose module is fetched when first opened. Webhooks is one: preloaded, it added 3.9 KiB gzipped
 * (27246 → 31196 bytes, test/http/session.test.ts) to every first load, for a page few people open.
 */
function later (load, render) {
  const mine = routed
  load().then(m => { if (mine === routed) cleanup = render(m) ?? null },
    err => { if (mine === routed) replace(main, message(`This page could not be loaded: ${err.message}`)) })
}

function route () {
  routed++
  if (cleanup != null) { cleanup(); cleanup = null }
  showChrome()
  delete main.dataset.ready
  const { parts, params } = parseHash()
  if (session == null) {
    shownPath = 'signin'
    replace(main)
    // No reason from the address: a link could otherwise put its own words above the token field.
    renderSignIn(main, { onSignedIn: signedIn })
    return
  }
  // The first page of pins was asked for alongside the session; hand it over once.
  const early = prefetch
  prefetch = null
  const prefetched = early == null ? undefined : path => path === early.path ? early.promise : undefined
  const ctx = { session, params, parts, navigate, can, prefetched }
  const pages = {
    pins: () => parts[1] != null ? renderDetail(main, ctx, parts[1]) : renderPins(main, ctx),
    add: () => renderAdd(main, ctx),
    devices: () => renderDevices(main, ctx),
    webhooks: () => later(() => import('./pages/webhooks.js'), m => m.renderWebhooks(main, ctx)),
    usage: () => renderUsage(main, ctx),
    admin: () => renderAdmin(main, ctx)
  }
  const page = pages[parts[0]]
  replace(main)
  if (page == null) { navigate(can('pins:read') ? '#/pins' : '#/add', { replace: true }); return }
  const path = parts.join('/')
  if (shownPath != null && (shownPath !== path || document.activeElement === document.body)) main.focus()
  shownPath = path
  cleanup = page() ?? null
}

function signedOut (reason) {
  if (session == null) return
  session = null
  routed++
  if (cleanup != null) { cleanup(); cleanup = null }
  shownPath = 'signin'
  replace(main)
  showChrome()
  renderSignIn(main, { onSignedIn: signedIn, reason })
}

onSignedOut(err => signedOut(err.details))

// Another tab signed in (perhaps as someone else) or out, and the cookie it shares with this one changed:
// this page follows, instead of showing one person's name while it speaks for another.
onSessionKeyChanged(async () => {
  let next = null
  try { next = await api('/session', { signIn: true }) } catch { /* no session now */ }
  if (next == null) { signedOut('you signed out in another tab'); return }
  if (session == null) { signedIn(next); return }
  const same = next.tokenId === session.tokenId
  session = next
  if (!same) route()
})

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('/session', { method: 'DELETE' }) } catch { /* signed out anyway */ }
  keepSessionKey(null)
  session = null
  if (cleanup != null) { cleanup(); cleanup = null }
  history.replaceState(null, '', '#/')
  route()
})

window.addEventListener('hashchange', () => { if (session != null) route() })

{
  const { parts, params } = parseHash()
  if (parts[0] === 'pins' && parts[1] == null) {
    const path = listPath(params)
    prefetch = { path, promise: api(path, { signIn: true }) }
    prefetch.promise.catch(() => {}) // a signed-out visitor's 401 is expected; used or dropped below
  }
}
try {
  signedIn(await api('/session', { signIn: true }))
} catch (err) {
  prefetch = null
  if (err.status !== 401) replace(main, h('p', { class: 'msg error', role: 'alert' }, `Pinery cannot be reached: ${err.message}`))
  else route()
}
