// Small DOM helpers. Text always goes in as text (textContent / text nodes),
// never as markup: names, meta, labels and file names are user-controlled.

/** Creates an element: h('a', { href, class, onclick }, child, 'text', …). */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'indeterminate') el[k] = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append (el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

/** Replaces an element's content. */
export function replace (el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB". */
export function bytes (n) {
  if (n == null || Number.isNaN(Number(n))) return '—'
  let v = Number(n)
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++ }
  return `${u === 0 ? v : Number(v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0))} ${UNITS[u]}`
}

/** "50GiB", "1.5 MB", "1000" → bytes; undefined when empty; NaN when unreadable. */
export function parseBytes (text) {
  const t = String(text).trim()
  if (t === '') return undefined
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?$/i.exec(t)
  if (m == null) return NaN
  const power = ' kmgtp'.indexOf(m[2].toLowerCase() || ' ')
  const base = m[3] !== '' || m[2] === '' ? 1024 : 1000
  return Math.round(Number(m[1]) * base ** power)
}

/** A timestamp as the reader's local date and time. */
export function when (iso) {
  if (iso == null) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

/**
 * A button that copies `text()` to the clipboard and says so. `name` is what a screen reader hears
 * ("Copy CID"): a page with several buttons that all read "Copy" does not say which is which.
 */
export function copyButton (text, label = 'Copy', name = label) {
  const status = h('span', { class: 'copied', role: 'status' })
  const button = h('button', {
    type: 'button',
    class: 'copy',
    'aria-label': name,
    onclick: async () => {
      const value = typeof text === 'function' ? text() : text
      try {
        await navigator.clipboard.writeText(value)
      } catch {
        // Clipboard needs a secure context: fall back to selecting the text.
        const area = h('textarea', { class: 'offscreen', readonly: true }, value)
        document.body.append(area)
        area.select()
        document.execCommand('copy')
        area.remove()
      }
      status.textContent = 'Copied'
      setTimeout(() => { status.textContent = '' }, 1500)
    }
  }, label)
  return h('span', { class: 'copy-wrap' }, button, status)
}

/** A usage bar: used of limit (no limit: just the number). */
export function bar (label, used, limit, format = String) {
  const id = `bar-${Math.random().toString(36).slice(2)}`
  const text = limit == null ? `${format(used)} (no limit)` : `${format(used)} of ${format(limit)}`
  const ratio = limit == null || limit === 0 ? (limit === 0 && used > 0 ? 1 : 0) : Math.min(1, used / limit)
  return h('div', { class: 'bar' },
    h('div', { class: 'bar-label' }, h('span', { id }, label), h('span', { class: 'muted' }, text)),
    limit == null ? null : h('progress', { 'aria-labelledby': id, max: 1, value: ratio, class: ratio >= 0.9 ? 'high' : '' }))
}

// What a new pin's name may not hold (NAME_UNSAFE in src/http/schemas.ts); a name stored before that rule may.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NAME_UNSAFE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/gu

/**
 * A pin's name as the page shows it: control characters and bidirectional overrides written out as \u{…}, so
 * a name stored before they were refused reads as what it is, not as another ("invoice-\u{202e}gnp.exe" read
 * "invoice-exe.png").
 */
export function shownName (name) {
  return name.replace(NAME_UNSAFE, c => `\\u{${c.codePointAt(0).toString(16)}}`)
}

/** Whether a stored name holds what a new name may not; {@link cleanName} is the name without it. */
export function unsafeName (name) {
  return name != null && name.search(NAME_UNSAFE) >= 0
}

/** The name without control characters and bidirectional overrides. */
export function cleanName (name) {
  return name.replace(NAME_UNSAFE, '').trim()
}

/** A message box; kind 'error' is announced to screen readers. */
export function message (text, kind = 'error') {
  return h('p', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
}

/**
 * Why a page is empty for this token: a pins:add token reaches Pins or Usage by a link or bookmark, and a bare
 * 403 from the API under a search form that cannot work is a dead end.
 */
export function needsScope (what, need, scope) {
  return h('div', {},
    message(`${what} needs a token with the ${need} scope; you are signed in with ${scope}, which may add pins only. ` +
      'Sign in with another token, or ask your admin for one.', 'info'),
    h('p', {}, h('a', { href: '#/add' }, 'Add a pin or upload files')))
}

/** A labelled form field wrapping `control`. */
export function field (label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`
  control.id = id
  const hintEl = hint == null ? null : h('small', { class: 'hint', id: `${id}-hint` }, hint)
  if (hintEl != null) control.setAttribute('aria-describedby', hintEl.id)
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl)
}

/** Shell-quotes a word for a copyable command line. */
export function shellQuote (s) {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${String(s).replaceAll("'", "'\\''")}'`
}

/** Sets the document title (main.js moves the focus to the page's content when another page opens). */
export function page (title) {
  document.title = `${title} · Pinery`
}

/**
 * Runs `handler` (async) on the form's submit, with its submit buttons disabled until it ends: a double click
 * (or Enter pressed twice) otherwise sent the request twice, making two pins, or two tokens of one label whose
 * first secret was never shown.
 */
export function onSubmit (form, handler) {
  form.addEventListener('submit', async e => {
    e.preventDefault()
    if (form.dataset.busy != null) return
    form.dataset.busy = ''
    const buttons = [...form.querySelectorAll('button[type=submit]')]
    for (const b of buttons) b.disabled = true
    try {
      await handler(e)
    } finally {
      delete form.dataset.busy
      for (const b of buttons) b.disabled = false
    }
  })
}
