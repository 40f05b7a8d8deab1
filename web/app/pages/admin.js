// Administration (admin scope): users with role, quota and usage bars;
// create, change quota or role, delete (optionally removing their pins),
// any user's devices; and the node: health checks, peer ID, delegates,
// queue, connections, blocks and bytes stored, and a backup to download.
import { api, withKey } from '../api.js'
import { bytes, copyButton, field, h, message, onSubmit, page, parseBytes, replace, when } from '../dom.js'
import { tokenManager } from '../tokens.js'
import { explain } from './add.js'
import { usageBars } from './usage.js'

function limitText (v) {
  return v == null ? '' : String(v)
}

/** Reads a quota field: '' → null (no limit). Throws on nonsense. */
function quotaValue (text, parse, what) {
  if (text.trim() === '') return null
  const n = parse(text)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what}: "${text}" is not a size like 50GiB or a whole number`)
  return n
}

function userCard (u, reload) {
  const role = h('select', { name: 'role' }, ['member', 'admin'].map(r => h('option', { value: r, selected: r === u.role }, r)))
  const qb = h('input', { type: 'text', name: 'quota-bytes', value: u.quota?.bytes != null ? bytes(u.quota.bytes).replace(' ', '') : '', placeholder: 'no limit' })
  const qp = h('input', { type: 'text', name: 'quota-pins', inputmode: 'numeric', value: limitText(u.quota?.pins), placeholder: 'no limit' })
  const error = h('div', { 'aria-live': 'polite' })
  const edit = h('form', { class: 'inline' }, field('Role', role), field('Byte quota', qb, 'e.g. 50GiB; empty: no limit'), field('Pin quota', qp),
    h('button', { type: 'submit' }, 'Save'))
  onSubmit(edit, async () => {
    error.replaceChildren()
    try {
      const quota = { bytes: quotaValue(qb.value, parseBytes, 'Byte quota'), pins: quotaValue(qp.value, Number, 'Pin quota') }
      await api(`/users/${encodeURIComponent(u.name)}`, { method: 'PATCH', body: { role: role.value, quota } })
      reload()
    } catch (err) { error.append(message(err.status != null ? explain(err) : err.message)) }
  })
  const removePins = h('input', { type: 'checkbox', name: 'remove-pins' })
  const del = h('form', { class: 'inline' },
    h('label', { class: 'check' }, removePins, 'also remove their pins'),
    h('button', { type: 'submit', class: 'danger' }, `Delete ${u.name}`))
  del.addEventListener('submit', async e => {
    e.preventDefault()
    error.replaceChildren()
    if (!confirm(`Delete the user "${u.name}" and revoke their tokens?${removePins.checked ? ' Their pins are removed too.' : ''}`)) return
    try {
      await api(`/users/${encodeURIComponent(u.name)}${removePins.checked ? '?remove_pins=true' : ''}`, { method: 'DELETE' })
      reload()
    } catch (err) {
      error.append(message(err.reason === 'CONFLICT' ? `${err.details}. Tick "also remove their pins" to delete them with the user.` : explain(err)))
    }
  })
  const devices = h('div')
  const devicesBox = h('details', { class: 'devices' }, h('summary', {}, 'Devices'), devices)
  devicesBox.addEventListener('toggle', () => {
    if (devicesBox.open && devices.childElementCount === 0) {
      tokenManager(devices, { base: `/users/${encodeURIComponent(u.name)}/tokens`, maxScope: u.role === 'admin' ? 'admin' : 'pins:write' })
    }
  }, { once: false })
  return h('article', { class: 'card user', dataset: { user: u.name } },
    h('div', { class: 'heading' }, h('h3', {}, u.name), h('span', { class: 'badge' }, u.role), h('small', { class: 'muted' }, `since ${when(u.created)}`)),
    usageBars(u.usage),
    h('details', {}, h('summary', {}, 'Change or delete'), edit, del),
    error, devicesBox)
}

function createUserForm (reload) {
  const name = h('input', { type: 'text', name: 'name', required: true, pattern: '[a-z0-9\\-]{1,64}', placeholder: 'alice' })
  const role = h('select', { name: 'role' }, h('option', { value: 'member' }, 'member'), h('option', { value: 'admin' }, 'admin'))
  const qb = h('input', { type: 'text', name: 'quota-bytes', placeholder: 'no limit' })
  const qp = h('input', { type: 'text', name: 'quota-pins', inputmode: 'numeric', placeholder: 'no limit' })
  const error = h('div', { 'aria-live': 'polite' })
  const form = h('form', { class: 'card', 'aria-labelledby': 'new-user' }, h('h2', { id: 'new-user' }, 'New user'),
    h('div', { class: 'inline' }, field('Name', name, 'lowercase letters, digits and -'), field('Role', role),
      field('Byte quota', qb, 'e.g. 50GiB'), field('Pin quota', qp)),
    error, h('button', { type: 'submit', class: 'primary' }, 'Create user'))
  onSubmit(form, async () => {
    error.replaceChildren()
    try {
      const body = { name: name.value.trim(), role: role.value }
      const bytesLimit = quotaValue(qb.value, parseBytes, 'Byte quota')
      const pinsLimit = quotaValue(qp.value, Number, 'Pin quota')
      if (bytesLimit != null || pinsLimit != null) body.quota = { ...(bytesLimit != null ? { bytes: bytesLimit } : {}), ...(pinsLimit != null ? { pins: pinsLimit } : {}) }
      await api('/users', { method: 'POST', body })
      form.reset()
      reload()
    } catch (err) { error.append(message(err.status != null ? explain(err) : err.message)) }
  })
  return form
}

async function nodeView (box) {
  const [health, all] = await Promise.all([
    fetch('/health', { headers: withKey(), credentials: 'same-origin' }).then(r => r.json()),
    api('/usage/all')
  ])
  const lp = health.checks.libp2p ?? {}
  const q = health.checks.queue ?? {}
  replace(box, h('h2', {}, 'Node'),
    h('p', {}, h('span', { class: `badge ${health.status === 'ok' ? 'pinned' : 'failed'}` }, health.status === 'ok' ? 'healthy' : `failing: ${health.failing.join(', ')}`),
      ` version ${health.version} (${String(health.commit).slice(0, 12)}), up ${Math.round(health.uptimeSeconds / 60)} min`),
    h('dl', { class: 'fields' },
      h('dt', {}, 'Peer ID'), h('dd', {}, h('code', { class: 'wrap' }, health.peerId), copyButton(health.peerId, 'Copy', 'Copy peer ID')),
      h('dt', {}, 'Delegates'), h('dd', {}, h('ul', { class: 'plain' }, (lp.delegates ?? []).map(d => h('li', {}, h('code', { class: 'wrap' }, d), copyButton(d, 'Copy', `Copy delegate ${d}`))))),
      h('dt', {}, 'Queue'), h('dd', {}, `${q.depth ?? '—'} waiting, ${q.active ?? '—'} fetching`),
      h('dt', {}, 'Connections'), h('dd', {}, String(lp.connections ?? '—')),
      h('dt', {}, 'Stored'), h('dd', {}, `${all.node.blocks.toLocaleString()} blocks, ${bytes(all.node.bytes)}`),
      h('dt', {}, 'Free disk'), h('dd', {}, health.checks.blockstore?.freeBytes != null ? bytes(health.checks.blockstore.freeBytes) : '—'),
      h('dt', {}, 'Backup'), h('dd', {}, h('a', { href: '/backup', download: '', class: 'button' }, 'Download a backup'),
        h('small', { class: 'muted' }, ' a tar of every request, user, token hash, webhook and block, taken while the node runs; ' +
        'keep it private (it holds the node\'s key) and off this machine; ', h('code', {}, 'pinery restore FILE'),
        ' makes a data dir of it'))),
    h('h3', {}, 'Checks'),
    h('ul', { class: 'checks' }, Object.entries(health.checks).map(([name, c]) =>
      h('li', {}, h('span', { class: `badge ${c.ok ? 'pinned' : 'failed'}` }, c.ok ? 'ok' : 'failing'), ` ${name}`, c.error != null ? `: ${c.error}` : ''))))
}

/** Renders the administration page. */
export function renderAdmin (main, ctx) {
  page('Administration')
  if (!ctx.can('admin')) {
    main.append(h('h1', {}, 'Administration'), message('Administration needs a token with the admin scope.', 'info'))
    return
  }
  const users = h('div', { class: 'users', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading users…'))
  const node = h('section', { class: 'card node' }, h('p', { class: 'muted' }, 'Loading the node…'))
  const load = async () => {
    try {
      const list = (await api('/users')).results
      replace(users, list.map(u => userCard(u, load)))
    } catch (err) { replace(users, message(err.message)) }
  }
  main.append(h('h1', {}, 'Administration'), node, h('h2', {}, 'Users'), createUserForm(load), users)
  load()
  nodeView(node).catch(err => replace(node, message(err.message)))
}
