// The pins list: newest first, filters (status, name with its match mode,
// CID, meta), paging through any number of pins with `before`, and live
// progress of the queued and pinning ones.
import { api, query } from '../api.js'
import { bytes, copyButton, field, h, message, needsScope, page, replace, shownName, when } from '../dom.js'
import { watchPins } from '../live.js'
import { inFlight, progressOf, statusBadge } from '../pin-view.js'

const STATES = ['queued', 'pinning', 'pinned', 'failed']
const MATCHES = { exact: 'is exactly', iexact: 'is (any case)', partial: 'contains', ipartial: 'contains (any case)' }
const PAGE_SIZE = 20

/** "app=site, team=t1" or a JSON object → a JSON string for ?meta=; throws on nonsense. */
export function metaFilter (text) {
  const t = text.trim()
  if (t === '') return ''
  if (t.startsWith('{')) return JSON.stringify(JSON.parse(t))
  const meta = {}
  for (const pair of t.split(',')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new Error(`"${pair.trim()}" is not key=value`)
    meta[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
  }
  return JSON.stringify(meta)
}

function shortCid (cid) {
  return cid.length > 20 ? `${cid.slice(0, 10)}…${cid.slice(-6)}` : cid
}

function row (p) {
  return h('tr', { dataset: { requestid: p.requestid } },
    h('td', { class: 'name', 'data-label': 'Name' }, h('a', { href: `#/pins/${encodeURIComponent(p.requestid)}` }, p.pin.name ? shownName(p.pin.name) : '(no name)')),
    h('td', { class: 'cid', 'data-label': 'CID' }, h('code', { title: p.pin.cid }, shortCid(p.pin.cid)), copyButton(p.pin.cid, 'Copy', `Copy CID of ${p.pin.name ? shownName(p.pin.name) : p.pin.cid}`)),
    h('td', { 'data-label': 'Status' }, statusBadge(p.status), progressOf(p)),
    h('td', { class: 'num', 'data-label': 'Size' }, p.info?.dag_size != null ? bytes(p.info.dag_size) : '—'),
    h('td', { 'data-label': 'Created' }, h('time', { datetime: p.created }, when(p.created))))
}

/** The filters a page address (#/pins?…) asks for. */
function filtersOf (params) {
  return {
    statuses: (params.get('status') ?? STATES.join(',')).split(',').filter(s => STATES.includes(s)),
    name: params.get('name') ?? '',
    match: MATCHES[params.get('match')] != null ? params.get('match') : 'ipartial',
    cid: params.get('cid') ?? '',
    meta: params.get('meta') ?? '',
    before: params.get('before') ?? ''
  }
}

/** The GET /pins path of the page a hash's params show. */
export function listPath (params) {
  const { statuses, name, match, cid, meta, before } = filtersOf(params)
  let metaJson = ''
  try { metaJson = metaFilter(meta) } catch { /* shown on submit */ }
  return `/pins${query({ status: statuses.join(','), name, match: name !== '' ? match : '', cid, meta: metaJson, before, limit: PAGE_SIZE })}`
}

/** Which filters narrow the list, in words ("status", "name", …); none: every pin. */
function filtersOn ({ statuses, name, cid, meta }) {
  const on = []
  if (statuses.length !== STATES.length) on.push(statuses.join(' or '))
  if (name !== '') on.push('name')
  if (cid !== '') on.push('CID')
  if (meta !== '') on.push('meta')
  return on
}

/** Renders the list; returns a cleanup that stops live updates. */
export function renderPins (main, { params, navigate, prefetched, can, session }) {
  page('Pins')
  if (!can('pins:read')) { main.append(h('h1', {}, 'Pins'), needsScope('Listing pins', 'pins:read', session.scope)); return }
  const { statuses, name, match, cid, meta, before } = filtersOf(params)
  const back = (params.get('back') ?? '').split(',').filter(Boolean)

  const nameInput = h('input', { type: 'search', name: 'name', value: name, placeholder: 'report' })
  const matchSelect = h('select', { name: 'match' }, Object.entries(MATCHES).map(([v, l]) => h('option', { value: v, selected: v === match }, l)))
  const cidInput = h('input', { type: 'text', name: 'cid', value: cid, placeholder: 'bafy… (up to 10, comma separated)', spellcheck: 'false' })
  const metaInput = h('input', { type: 'text', name: 'meta', value: meta, placeholder: 'app=site, team=web', spellcheck: 'false' })
  const boxes = STATES.map(s => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'status', value: s, checked: statuses.includes(s) }), s))
  const formError = h('div', { 'aria-live': 'polite' })
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter pins' },
    h('fieldset', { class: 'statuses' }, h('legend', {}, 'Status'), boxes),
    h('div', { class: 'row' },
      field('Name', nameInput), field('Name match', matchSelect), field('CID', cidInput), field('Meta', metaInput, 'key=value pairs or a JSON object')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search'), h('a', { href: '#/pins', class: 'button' }, 'Clear')),
    formError)
  form.addEventListener('submit', e => {
    e.preventDefault()
    formError.replaceChildren()
    const chosen = boxes.map(b => b.firstChild).filter(b => b.checked).map(b => b.value)
    try { metaFilter(metaInput.value) } catch (err) { formError.append(message(`Meta: ${err.message}`)); metaInput.focus(); return }
    if (chosen.length === 0) { formError.append(message('Choose at least one status.')); return }
    navigate(`#/pins${query({
      status: chosen.length === STATES.length ? '' : chosen.join(','),
      name: nameInput.value.trim(),
      match: nameInput.value.trim() === '' ? '' : matchSelect.value,
      cid: cidInput.value.replace(/\s+/g, ''),
      meta: metaInput.value.trim()
    })}`)
  })

  const results = h('section', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading pins…'))
  // On a phone the open form took the whole first screen (375×740: the first pin began at 700 px), so the list
  // itself was out of sight: there it starts folded, unless a filter is on, and says which are.
  const active = filtersOn({ statuses, name, cid, meta })
  const filters = h('details', { class: 'filters-box', open: active.length > 0 || matchMedia('(min-width: 761px)').matches },
    h('summary', {}, active.length > 0 ? `Filters: ${active.join(', ')}` : 'Filters'), form)
  main.append(h('div', { class: 'heading' }, h('h1', {}, 'Pins'), h('a', { href: '#/add', class: 'button primary' }, 'Add')), filters, results)

  let stopWatching = () => {}
  const controller = new AbortController()
  const load = async () => {
    const path = listPath(params)
    let list
    try {
      list = await (prefetched?.(path) ?? api(path, { signal: controller.signal }))
    } catch (err) {
      if (err.name === 'AbortError') return
      replace(results, message(err.message))
      results.setAttribute('aria-busy', 'false')
      return
    }
    const filtered = filtersOn({ statuses, name, cid, meta }).length > 0
    if (list.results.length === 0) {
      replace(results, h('div', { class: 'empty' },
        h('p', {}, filtered || before !== '' ? 'No pins match these filters.' : 'Nothing is pinned yet.'),
        h('p', {}, filtered ? h('a', { href: '#/pins' }, 'Clear the filters') : h('a', { href: '#/add' }, 'Pin a CID or upload files'))))
    } else {
      const tbody = h('tbody', {}, list.results.map(row))
      const here = Object.fromEntries(params)
      const last = list.results[list.results.length - 1]
      const older = list.results.length === PAGE_SIZE
        ? `#/pins${query({ ...here, before: last.created, back: [...back, before || '-'].join(',') })}`
        : null
      const prev = back.length > 0 ? back[back.length - 1] : null
      const newer = before === '' ? null : `#/pins${query({ ...here, before: prev === '-' ? '' : prev, back: back.slice(0, -1).join(',') })}`
      replace(results,
        h('p', { class: 'muted count' }, `${list.count.toLocaleString()} pin${list.count === 1 ? '' : 's'}`),
        h('table', { class: 'pins' },
          h('caption', { class: 'offscreen' }, 'Pins, newest first'),
          h('thead', {}, h('tr', {}, ['Name', 'CID', 'Status', 'Size', 'Created'].map(t => h('th', { scope: 'col' }, t)))),
          tbody),
        h('nav', { class: 'pager', 'aria-label': 'Pages' },
          newer != null ? h('a', { href: newer, class: 'button' }, '← Newer') : h('span'),
          older != null ? h('a', { href: older, class: 'button' }, 'Older →') : h('span')))
      const live = list.results.filter(inFlight).map(p => p.requestid)
      stopWatching = watchPins(live, p => {
        const tr = tbody.querySelector(`tr[data-requestid="${CSS.escape(p.requestid)}"]`)
        if (tr != null) tr.replaceWith(row(p))
      })
    }
    results.setAttribute('aria-busy', 'false')
    main.dataset.ready = 'pins'
    performance.mark('pins-rendered')
  }
  load()
  return () => { controller.abort(); stopWatching() }
}
