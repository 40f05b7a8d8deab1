/**
 * Forgets peers once they are gone. libp2p keeps a record of every peer that connected (its
 * addresses, and the protocols identify reported: up to ~8 KB) in the node's datastore, on disk, and
 * drops it only when it is read again over 6 h later, which nothing in Pinery does. So any stranger
 * could grow the datastore with fresh peer IDs: 310 connections of peers announcing 100 made-up
 * protocols each left 310 records, 1.78 MB, for good (hostile review, round nine); at a few hundred
 * handshakes a second that is gigabytes an hour, until the disk is full and every write answers 507.
 * Pinery needs no record of a peer it is not connected to: it dials origins by the multiaddrs a
 * request gives, and nothing dials a peer by ID alone (kubo keeps its peer store in memory for the same
 * reason). A record is removed a while after its peer's last connection closed (identify may still be
 * writing it as the connection ends), and the records of every unconnected peer at start.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from '../logger.js'

/** A peer's record is removed this long after its last connection closed. */
export const FORGET_AFTER_MS = 5_000

/** Records removed per query of the peer store at start. */
const PAGE = 1000

/** Started by the node; stopped with it. */
export interface PeerStoreSweep { stop(): void }

/** What it works on. */
export interface PeerStoreSweepComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'peerStore' | 'getConnections' | 'addEventListener' | 'removeEventListener'>
  logger: Logger
}

/** Removes the records of unconnected peers now (in the background) and of each peer that leaves from now on. */
export function startPeerStoreSweep (
  components: PeerStoreSweepComponents, init: { forgetAfterMs?: number } = {}
): PeerStoreSweep {
  const { libp2p } = components
  const log = components.logger.child({ component: 'peer-store-sweep' })
  const forgetAfterMs = init.forgetAfterMs ?? FORGET_AFTER_MS
  const stopping = new AbortController()
  const timers = new Set<NodeJS.Timeout>()
  const gone = (peer: PeerId): boolean => !peer.equals(libp2p.peerId) && libp2p.getConnections(peer).length === 0

  async function forget (peer: PeerId): Promise<void> {
    if (stopping.signal.aborted || !gone(peer)) return
    await libp2p.peerStore.delete(peer, { signal: stopping.signal })
  }

  function onDisconnect (evt: CustomEvent<PeerId>): void {
    const timer = setTimeout(() => {
      timers.delete(timer)
      forget(evt.detail).catch((err: Error) => { log.debug({ err: err.message }, 'peer record not removed') })
    }, forgetAfterMs)
    timer.unref()
    timers.add(timer)
  }

  // What earlier runs left (older versions removed nothing), a page at a time.
  async function sweep (): Promise<void> {
    let removed = 0
    for (;;) {
      const page = await libp2p.peerStore.all({
        filters: [(peer) => gone(peer.id)], limit: PAGE, signal: stopping.signal
      })
      for (const peer of page) await forget(peer.id)
      removed += page.length
      if (page.length < PAGE) break
    }
    if (removed > 0) log.info({ removed }, 'removed the records of peers no longer connected')
  }

  libp2p.addEventListener('peer:disconnect', onDisconnect)
  sweep().catch((err: Error) => {
    if (!stopping.signal.aborted) log.warn({ err: err.message }, 'peer store sweep failed')
  })
  return {
    stop () {
      stopping.abort()
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
    }
  }
}
