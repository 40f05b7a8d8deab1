// Adding: pin a CID (name, origins, meta), or upload one file, several
// files, a whole folder with its paths (pickers or drag and drop), or a CAR,
// with an upload progress bar. The new pin opens.
import { api, upload } from '../api.js'
import { bytes, field, h, message, onSubmit, page, replace } from '../dom.js'
import { remember } from '../pin-view.js'

/** "key=value" lines (or a JSON object) → an object; undefined when empty. */
export function parseMeta (text) {
  const t = text.trim()
  if (t === '') return undefined
  if (t.startsWith('{')) return JSON.parse(t)
  const meta = {}
  for (const line of t.split('\n')) {
    if (line.trim() === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`"${line.trim()}" is not key=value`)
    meta[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return meta
}

/** Explains an API error in words next to the form that caused it. */
export function explain (err) {
  if (err.reason === 'INSUFFICIENT_FUNDS') {
    return `Over your quota: ${err.details}. Remove pins you no longer need, or ask an admin for a larger quota.`
  }
  if (err.status === 403) return `Not allowed with this sign-in: ${err.details}`
  if (err.status === 413) return `Too large: ${err.details}`
  return err.message
}

// Reads a dropped folder (FileSystemDirectoryEntry) into files with their paths.
async function readEntry (entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject))
    out.push({ file, path: `${prefix}${entry.name}` })
    return
  }
  const reader = entry.createReader()
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject))
    if (batch.length === 0) break
    for (const child of batch) await readEntry(child, `${prefix}${entry.name}/`, out)
  }
}

/** When every path starts with the same folder, that folder is the upload (as `ipfs add -r` does). */
function commonFolder (items) {
  const first = items[0]?.path.split('/')
  if (first == null || first.length < 2) return null
  return items.every(i => i.path.startsWith(`${first[0]}/`)) ? first[0] : null
}

/**
 * Pinery dials a loopback or LAN origin only where the operator allows it: without a word where origins are typed,
 * a pin naming the person's own kubo on 192.168.x.x just waited for a block that never came, then failed.
 */
export const DIAL_ALLOW_NOTE = 'Loopback and private (LAN) addresses are dialed only where PINERY_DIAL_ALLOW on the ' +
  'server allows them.'
const ORIGINS_HINT = `Addresses of peers that have it, one per line, each ending /p2p/<peer ID>. ${DIAL_ALLOW_NOTE}`

/** An Origins field's text → its addresses (one per line; spaces and commas separate too). */
export function parseOrigins (text) {
  return text.split(/[\s,]+/).filter(Boolean)
}

function pinByCid (ctx) {
  const cid = h('input', { type: 'text', name: 'cid', required: true, spellcheck: 'false', placeholder: 'bafy…' })
  const name = h('input', { type: 'text', name: 'name', maxlength: 255 })
  const origins = h('textarea', { name: 'origins', rows: 2, spellcheck: 'false', placeholder: '/ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…' })
  const meta = h('textarea', { name: 'meta', rows: 2, spellcheck: 'false', placeholder: 'app=site' })
  const error = h('div', { 'aria-live': 'polite' })
  const form = h('form', { class: 'card', 'aria-labelledby': 'pin-title' },
    h('h2', { id: 'pin-title' }, 'Pin a CID'),
    field('CID', cid),
    field('Name (optional)', name),
    field('Origins (optional)', origins, ORIGINS_HINT),
    field('Meta (optional)', meta, 'key=value, one per line'),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Pin'))
  onSubmit(form, async () => {
    error.replaceChildren()
    const body = { cid: cid.value.trim() }
    if (name.value.trim() !== '') body.name = name.value.trim()
    const list = parseOrigins(origins.value)
    if (list.length > 0) body.origins = list
    try {
      const m = parseMeta(meta.value)
      if (m != null) body.meta = m
    } catch (err) { error.append(message(`Meta: ${err.message}`)); meta.focus(); return }
    try {
      const status = await api('/pins', { method: 'POST', body })
      remember(status)
      ctx.navigate(`#/pins/${encodeURIComponent(status.requestid)}`)
    } catch (err) {
      error.append(message(explain(err)))
    }
  })
  return form
}

function uploader (ctx) {
  let items = []
  let car = null
  const name = h('input', { type: 'text', name: 'name', maxlength: 255 })
  const meta = h('textarea', { name: 'meta', rows: 2, spellcheck: 'false', placeholder: 'app=site' })
  const filesInput = h('input', { type: 'file', multiple: true, class: 'offscreen', id: 'pick-files' })
  const folderInput = h('input', { type: 'file', webkitdirectory: true, class: 'offscreen', id: 'pick-folder' })
  const carInput = h('input', { type: 'file', accept: '.car,application/vnd.ipld.car', class: 'offscreen', id: 'pick-car' })
  const chosen = h('div', { class: 'chosen', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Nothing chosen yet.'))
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'upload progress' })
  const progressText = h('small', { class: 'muted', 'aria-live': 'polite' })
  const error = h('div', { 'aria-live': 'polite' })
  const submit = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Upload')

  const show = () => {
    submit.disabled = items.length === 0 && car == null
    if (car != null) { replace(chosen, h('p', {}, 'CAR: ', h('strong', {}, car.name), ` (${bytes(car.size)})`)); return }
    if (items.length === 0) { replace(chosen, h('p', { class: 'muted' }, 'Nothing chosen yet.')); return }
    const total = items.reduce((n, i) => n + i.file.size, 0)
    replace(chosen,
      h('p', {}, `${items.length} file${items.length === 1 ? '' : 's'}, ${bytes(total)}`),
      h('ul', { class: 'files' }, items.slice(0, 50).map(i => h('li', {}, i.path, h('span', { class: 'muted' }, ` ${bytes(i.file.size)}`))),
        items.length > 50 ? h('li', { class: 'muted' }, `and ${items.length - 50} more`) : null))
  }
  const choose = (next, isCar = false) => {
    error.replaceChildren()
    car = isCar ? next[0]?.file ?? null : null
    items = isCar ? [] : next
    show()
  }
  filesInput.addEventListener('change', () => choose([...filesInput.files].map(file => ({ file, path: file.name }))))
  folderInput.addEventListener('change', () => choose([...folderInput.files].map(file => ({ file, path: file.webkitRelativePath || file.name }))))
  carInput.addEventListener('change', () => choose([...carInput.files].map(file => ({ file, path: file.name })), true))

  const drop = h('div', { class: 'drop', dataset: { drop: '' } },
    h('p', {}, 'Drop files, a folder or a .car file here, or choose:'),
    h('div', { class: 'actions' },
      h('label', { for: 'pick-files', class: 'button', tabindex: 0 }, 'Files…'), filesInput,
      h('label', { for: 'pick-folder', class: 'button', tabindex: 0 }, 'A folder…'), folderInput,
      h('label', { for: 'pick-car', class: 'button', tabindex: 0 }, 'A CAR…'), carInput))
  // Labels are not buttons: make Enter and Space open the picker behind them.
  for (const label of drop.querySelectorAll('label.button')) {
    label.addEventListener('keydown', e => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); document.getElementById(label.htmlFor).click() }
    })
  }
  drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over') })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', async e => {
    e.preventDefault()
    drop.classList.remove('over')
    const out = []
    const entries = [...e.dataTransfer.items].map(i => i.webkitGetAsEntry?.()).filter(Boolean)
    if (entries.length > 0) for (const entry of entries) await readEntry(entry, '', out)
    else for (const file of e.dataTransfer.files) out.push({ file, path: file.name })
    const lone = out.length === 1 && /\.car$/i.test(out[0].path)
    choose(out, lone)
  })

  const form = h('form', { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload'),
    drop, chosen,
    field('Name (optional)', name, 'Defaults to the file or folder name'),
    field('Meta (optional)', meta, 'key=value, one per line'),
    h('div', { class: 'progress' }, progress, progressText),
    error, submit)

  form.addEventListener('submit', async e => {
    e.preventDefault()
    error.replaceChildren()
    let m
    try { m = parseMeta(meta.value) } catch (err) { error.append(message(`Meta: ${err.message}`)); meta.focus(); return }
    const params = new URLSearchParams()
    let body
    let contentType
    const folder = commonFolder(items)
    const given = name.value.trim()
    if (car != null) {
      body = car
      contentType = 'application/vnd.ipld.car'
      // As the hint says, and as for files: a CAR's pin was "(no name)" among the person's named ones.
      params.set('name', given || car.name)
    } else if (items.length === 1 && folder == null) {
      body = items[0].file
      contentType = 'application/octet-stream'
      params.set('name', given || items[0].path)
    } else {
      body = new FormData()
      body.append('name', given || folder || 'upload')
      // Paths as picked: the server stores one folder as that folder (kubo's `ipfs add -r`), a single file in it
      // included, and several files or folders under one directory.
      for (const i of items) body.append('file', i.file, i.path)
    }
    if (m != null) {
      if (body instanceof FormData) body.set('meta', JSON.stringify(m))
      else params.set('meta', JSON.stringify(m))
    }
    const qs = params.toString()
    submit.disabled = true
    progress.hidden = false
    progress.value = 0
    try {
      const answer = await upload(`/content${qs === '' ? '' : `?${qs}`}`, body, {
        contentType,
        onProgress: (loaded, total) => {
          if (total != null) progress.value = loaded / total
          progressText.textContent = total != null ? `${bytes(loaded)} of ${bytes(total)} sent` : `${bytes(loaded)} sent`
        }
      })
      const status = answer.results != null ? answer.results[0] : answer
      remember(status)
      ctx.navigate(`#/pins/${encodeURIComponent(status.requestid)}`)
    } catch (err) {
      progress.hidden = true
      progressText.textContent = ''
      error.append(message(explain(err)))
      submit.disabled = false
    }
  })
  return form
}

/** Renders both forms. */
export function renderAdd (main, ctx) {
  page('Add')
  main.append(h('h1', {}, 'Add'), h('div', { class: 'grid2' }, uploader(ctx), pinByCid(ctx)))
}
