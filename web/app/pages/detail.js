// One pin: every PinStatus field, delegates to copy, the kubo command,
// replace, delete, retry a failed one, and its content through /ipfs/ (a
// file preview or download, a directory's listing, the CAR).
import { api, withKey } from '../api.js'
import { bytes, cleanName, copyButton, field, h, message, onSubmit, page, replace, shellQuote, shownName, unsafeName, when } from '../dom.js'
import { watchPins } from '../live.js'
import { inFlight, progressOf, recalled, remember, statusBadge } from '../pin-view.js'
import { DIAL_ALLOW_NOTE, explain, parseOrigins } from './add.js'

const PREVIEW_BYTES = 4096
const TEXT = /^(text\/|application\/(json|javascript|xml))/

function gatewayPath (cid, path) {
  return `/ipfs/${encodeURIComponent(cid)}${path === '' ? '' : `/${path.split('/').map(encodeURIComponent).join('/')}`}`
}

function dl (rows) {
  return h('dl', { class: 'fields' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
}

async function contentView (p, path) {
  const cid = p.pin.cid
  const url = gatewayPath(cid, path)
  const box = h('section', { class: 'card', 'aria-labelledby': 'content-title' }, h('h2', { id: 'content-title' }, 'Content'))
  const crumbs = ['', ...path.split('/').filter(Boolean)]
  // At the DAG's root a lone "root" crumb would only link to this page.
  if (crumbs.length > 1) box.append(h('nav', { class: 'crumbs', 'aria-label': 'Path' }, crumbs.map((seg, i) => {
    const to = crumbs.slice(1, i + 1).join('/')
    return [i > 0 ? ' / ' : '', h('a', { href: `#/pins/${encodeURIComponent(p.requestid)}${to === '' ? '' : `?path=${encodeURIComponent(to)}`}` }, i === 0 ? 'root' : seg)]
  })))
  const res = await fetch(url, { method: 'HEAD', headers: withKey(), credentials: 'same-origin' })
  if (!res.ok) { box.append(message(`The content cannot be read (${res.status}).`, 'info')); return box }
  // Plain links, no session key: the gateway answers any session of the person's that may read (a second
  // cookie under /ipfs does not stop them), so they can be bookmarked, shared with a teammate and kept in
  // the history without carrying this session's key.
  const links = h('p', { class: 'actions' },
    h('a', { href: url, class: 'button', target: '_blank', rel: 'noopener' }, path === '' ? 'Open' : 'Open file'),
    h('a', { href: `${url}?format=car`, class: 'button', download: `${cid}.car` }, 'Download CAR'))
  if ((res.headers.get('etag') ?? '').endsWith('.dir"')) {
    const listing = await (await fetch(url, { headers: withKey(), credentials: 'same-origin' })).json()
    links.firstChild.textContent = 'Open listing (JSON)'
    box.append(links, listing.entries.length === 0
      ? h('p', { class: 'muted' }, 'This directory is empty.')
      : h('ul', { class: 'listing' }, listing.entries.map(e => {
          const sub = path === '' ? e.name : `${path}/${e.name}`
          return h('li', {}, h('a', { href: `#/pins/${encodeURIComponent(p.requestid)}?path=${encodeURIComponent(sub)}` }, e.name),
            h('span', { class: 'muted' }, ` ${bytes(e.size)}`))
        })))
    return box
  }
  const type = res.headers.get('content-type') ?? ''
  const size = Number(res.headers.get('content-length'))
  // The pin's own file is saved under the pin's name (the gateway's ?filename=, for Open's viewer and Save as
  // too), not as its CID: "report.bin" downloaded as "QmVGN2…", with no extension to open it by.
  const named = path === '' ? cleanName(p.pin.name ?? '') : ''
  const file = named === '' ? url : `${url}?filename=${encodeURIComponent(named)}`
  links.firstChild.href = file
  links.insertBefore(h('a', { href: file, class: 'button', download: path.split('/').pop() || named || cid }, 'Download'), links.children[1])
  box.append(h('p', {}, `${type.split(';')[0]}, ${bytes(size)}`), links)
  if (type.startsWith('image/')) box.append(h('img', { src: url, alt: `preview of ${path || cid}`, class: 'preview' }))
  else if (size === 0) box.append(h('p', { class: 'muted' }, 'The file is empty.'))
  else if (TEXT.test(type)) {
    const headers = size > PREVIEW_BYTES ? { range: `bytes=0-${PREVIEW_BYTES - 1}` } : {}
    const part = await fetch(url, { headers: withKey(headers), credentials: 'same-origin' })
    box.append(h('pre', { class: 'preview', tabindex: 0, 'aria-label': 'file preview' }, await part.text()), size > PREVIEW_BYTES ? h('p', { class: 'muted' }, 'First 4 KiB shown.') : null)
  }
  return box
}

/**
 * The Change card: an Origins field that Replace and Retry pin with, so a pin whose origins were wrong (a typo, a
 * loopback address the server may not dial) is corrected here instead of pinned anew. Made once per page and
 * kept while the live status above it is redrawn (about once a second during a fetch): redrawn with it, what
 * the person was typing was lost. `show(p)` tells it the request's latest state.
 */
function changeCard (ctx) {
  let p = null
  const cid = h('input', { type: 'text', name: 'cid', required: true, spellcheck: 'false', placeholder: 'bafy…' })
  const origins = h('textarea', { name: 'origins', rows: 2, spellcheck: 'false', placeholder: '/ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…' })
  const error = h('div', { 'aria-live': 'polite' })
  const replaceForm = h('form', { class: 'inline' },
    field('Replace with CID', cid, 'Keeps the name and meta; the old content stays pinned until the new one is.'),
    h('button', { type: 'submit' }, 'Replace'))
  const resubmit = async (newCid, name = p.pin.name) => {
    error.replaceChildren()
    const body = { ...p.pin, cid: newCid }
    if (name != null && name !== '') body.name = name
    else delete body.name
    const list = parseOrigins(origins.value)
    if (list.length > 0) body.origins = list
    else delete body.origins
    try {
      const status = await api(`/pins/${encodeURIComponent(p.requestid)}`, { method: 'POST', body })
      remember(status)
      // In place of the old request, which is gone: Back then leads to where the person came from, not to
      // "There is no such pin".
      ctx.navigate(`#/pins/${encodeURIComponent(status.requestid)}`, { replace: true })
    } catch (err) { error.append(message(explain(err))) }
  }
  onSubmit(replaceForm, () => resubmit(cid.value.trim()))
  // Renaming is a replace with the same CID and the new name (the API has no other way): without this a person
  // who mistyped a name had only Delete and pin again, or a Replace whose hint says it keeps the name.
  const newName = h('input', { type: 'text', name: 'name', maxlength: 255, spellcheck: 'false' })
  const renameForm = h('form', { class: 'inline' },
    field('Name', newName, 'Renaming keeps the content pinned; the pin gets a new request ID. Empty: no name.'),
    h('button', { type: 'submit' }, 'Rename'))
  onSubmit(renameForm, async () => {
    const wanted = newName.value.trim()
    if (wanted === (p.pin.name ?? '')) { replace(error, message('That is its name already.', 'info')); return }
    await resubmit(p.pin.cid, wanted)
  })
  const del = h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      if (!confirm(`Delete the pin "${p.pin.name ?? p.pin.cid}"? Its content is removed unless another pin keeps it.`)) return
      error.replaceChildren()
      try {
        await api(`/pins/${encodeURIComponent(p.requestid)}`, { method: 'DELETE' })
        ctx.navigate('#/pins', { replace: true })
      } catch (err) { error.append(message(explain(err))) }
    }
  }, 'Delete')
  // Failed: pin it again. Still queued or looking: start over with the origins as they now read, rather than wait
  // two minutes for a failure that the origin notes already foretell.
  const retry = h('button', {
    type: 'button',
    class: 'primary',
    hidden: true,
    onclick: async e => { const b = e.currentTarget; b.disabled = true; try { await resubmit(p.pin.cid) } finally { b.disabled = false } }
  }, 'Retry')
  // A name stored before control characters and bidirectional overrides were refused: Replace, Retry and Restart
  // keep it as it is (the API takes a request's own name back); this takes them out.
  const unsafe = h('div', { hidden: true },
    message('This name holds control characters or bidirectional overrides (shown as \\u{…}), which a new name ' +
      'may not. Replace, Retry and Restart keep it as it is.', 'info'),
    h('p', { class: 'actions' }, h('button', {
      type: 'button',
      onclick: async e => { const b = e.currentTarget; b.disabled = true; try { await resubmit(p.pin.cid, cleanName(p.pin.name)) } finally { b.disabled = false } }
    }, 'Remove them from the name')))
  const hint = `One per line, each ending /p2p/<peer ID>; Replace, Retry and Restart pin with these. ${DIAL_ALLOW_NOTE}`
  const card = h('section', { class: 'card', 'aria-labelledby': 'actions-title' },
    h('h2', { id: 'actions-title' }, 'Change'), unsafe, renameForm, field('Origins', origins, hint), replaceForm, h('p', { class: 'actions' }, retry, del), error)
  return {
    card,
    show (next) {
      if (p == null) {
        // A multiaddr wraps to two or three lines on a phone: room for each without scrolling the field.
        const given = next.pin.origins ?? []
        origins.value = given.join('\n')
        origins.rows = Math.min(8, 2 + 2 * given.length)
        // A name from before the name rule comes without what a new name may not hold (else Rename answers 400).
        newName.value = next.pin.name == null ? '' : unsafeName(next.pin.name) ? cleanName(next.pin.name) : next.pin.name
      }
      p = next
      unsafe.hidden = !unsafeName(p.pin.name)
      retry.hidden = p.status === 'pinned'
      retry.textContent = p.status === 'failed' ? 'Retry' : 'Restart'
    }
  }
}

function view (p, ctx, path, holder) {
  page(p.pin.name ? shownName(p.pin.name) : p.pin.cid)
  // Without --background kubo polls the pin's status, which a pins:add token may not read: it would fail.
  const background = ctx.can('pins:read') ? '' : ' --background'
  // A new pin: a name stored before the name rule goes without what a new name may not hold (else a 400, and the
  // override scrambled the command on the page).
  const name = p.pin.name == null ? '' : cleanName(p.pin.name)
  const kubo = `ipfs pin remote add --service=pinery${background}${name !== '' ? ` --name=${shellQuote(name)}` : ''} ${p.pin.cid}`
  const meta = Object.entries(p.pin.meta ?? {})
  const kuboCard = h('section', { class: 'card', 'aria-labelledby': 'kubo-title' },
    h('h2', { id: 'kubo-title' }, 'Pin it from kubo'),
    h('pre', { class: 'cmd' }, kubo), copyButton(kubo, 'Copy command', 'Copy kubo command'))
  replace(holder,
    h('p', {}, backLink(ctx)),
    h('div', { class: 'heading' }, h('h1', {}, p.pin.name ? shownName(p.pin.name) : '(no name)'), statusBadge(p.status)),
    h('div', { class: 'live' }, progressOf(p)),
    h('section', { class: 'card', 'aria-label': 'Pin status', dataset: { fields: '' } }, dl([
      ['Request ID', [h('code', {}, p.requestid), copyButton(p.requestid, 'Copy', 'Copy request ID')]],
      ['Status', p.status],
      ['Created', h('time', { datetime: p.created }, `${when(p.created)} (${p.created})`)],
      ['CID', [h('code', { class: 'wrap' }, p.pin.cid), copyButton(p.pin.cid, 'Copy', 'Copy CID')]],
      ['Name', p.pin.name != null ? shownName(p.pin.name) : '—'],
      ['Origins', (p.pin.origins ?? []).length === 0 ? '—' : h('ul', { class: 'plain' }, p.pin.origins.map(o => h('li', {}, h('code', { class: 'wrap' }, o))))],
      ['Meta', meta.length === 0 ? '—' : h('ul', { class: 'plain' }, meta.map(([k, v]) => h('li', {}, h('strong', {}, k), ': ', v)))],
      ...Object.entries(p.info ?? {}).map(([k, v]) => [`info.${k}`, k === 'dag_size' ? `${bytes(Number(v))} (${v} bytes)` : v]),
      ['Delegates', [h('ul', { class: 'plain' }, p.delegates.map(d => h('li', {}, h('code', { class: 'wrap' }, d), copyButton(d, 'Copy', `Copy delegate ${d}`)))),
        copyButton(p.delegates.join('\n'), 'Copy all', 'Copy all delegates')]]
    ])),
    kuboCard)
  if (p.status === 'pinned' && ctx.can('pins:read')) {
    // What a pinned pin's page is opened for first (open, download, the folder's files): above the request's
    // fields, which on a phone (375×740) put Open and Download 1,150 px down, on the third screen.
    const slot = h('div')
    holder.insertBefore(slot, holder.querySelector('[data-fields]'))
    contentView(p, path).then(box => slot.append(box), err => slot.append(message(err.message)))
  }
}

/** Back to the list; a token that may add but not list pins (pins:add) goes back to Add, not to a 403. */
function backLink (ctx) {
  return ctx.can('pins:read') ? h('a', { href: '#/pins' }, '← All pins') : h('a', { href: '#/add' }, '← Add another')
}

/** Renders one pin (live while queued or pinning); returns a cleanup. */
export function renderDetail (main, ctx, requestid) {
  // What the live status redraws, and below it what it must not (see changeCard).
  const holder = h('div')
  const change = ctx.can('pins:write') ? changeCard(ctx) : null
  const detail = h('div', { class: 'detail' }, holder)
  main.append(detail)
  const path = (ctx.params.get('path') ?? '').split('/').filter(s => s !== '' && s !== '.' && s !== '..').join('/')
  const draw = p => {
    view(p, ctx, path, holder)
    if (change != null) { change.show(p); if (change.card.parentNode == null) detail.append(change.card) }
    detail.dataset.status = p.status
  }
  let stop = () => {}
  const show = p => {
    draw(p)
    stop()
    stop = inFlight(p) && ctx.can('pins:read') ? watchPins([p.requestid], next => { if (!inFlight(next)) stop(); draw(next) }) : () => {}
  }
  const known = recalled(requestid)
  if (known != null) show(known)
  if (ctx.can('pins:read')) {
    api(`/pins/${encodeURIComponent(requestid)}`).then(show, err => {
      change?.card.remove()
      replace(holder, h('p', {}, backLink(ctx)), message(err.status === 404 ? 'There is no such pin (or it was deleted).' : err.message))
    })
  } else if (known == null) {
    replace(holder, message('This token may add pins but not read them back.', 'info'))
  }
  return () => stop()
}
