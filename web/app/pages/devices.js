// The signed-in user's tokens, one per device: list, create (the secret is
// shown once), revoke.
import { h, page } from '../dom.js'
import { tokenManager } from '../tokens.js'

/** Renders the devices page. */
export function renderDevices (main, ctx) {
  page('Devices')
  const box = h('section', { class: 'card', 'aria-labelledby': 'devices-title' })
  main.append(h('h1', { id: 'devices-title' }, `Devices of ${ctx.session.user}`),
    h('p', { class: 'muted' }, 'Give each device its own token, so a lost one is revoked alone.'), box)
  tokenManager(box, {
    base: '/tokens',
    maxScope: ctx.session.scope,
    currentTokenId: ctx.session.tokenId,
    onRevokedSelf: () => location.reload()
  })
}
