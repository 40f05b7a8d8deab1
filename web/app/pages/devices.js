// The signed-in user's tokens, one per device: list, create (the secret is
// shown once), revoke.
import { h, message, page } from '../dom.js'
import { tokenManager } from '../tokens.js'

/** Renders the devices page. */
export function renderDevices (main, ctx) {
  page('Devices')
  // Listing and making tokens is writing (pins:write): a lower token reached here by a bookmark got the API's 403
  // above a form whose every use failed.
  if (!ctx.can('pins:write')) {
    main.append(h('h1', {}, 'Devices'), message('Managing devices needs a token with the pins:write scope; you are ' +
      `signed in with ${ctx.session.scope}. Sign in with another token, or ask your admin for one.`, 'info'))
    return
  }
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
