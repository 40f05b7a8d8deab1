/**
 * The table of settings config.ts reads: each environment variable, the key of `Config` it fills, its
 * default, its `--help` text and its parser (the parsers are in config-values.ts).
 */
import { resolve } from 'node:path'
import { adminToken, commaList, integer, keyPassword, nonEmpty, oneOf } from './config-values.js'
import { parseDialAllow } from './node/dial-gate.js'
import { parseMultiaddrList } from './node/multiaddrs.js'
import { createTargetPolicy } from './webhooks/target-policy.js'
import { ALLOWED_HOST } from './http/host-check.js'
import { parseTrustedProxies } from './http/client-address.js'
import type { Config } from './config.js'

/** One variable: its name, the key it fills, its default and meaning, and its parser. */
export interface Setting<K extends keyof Config> {
  env: string
  key: K
  default: string
  description: string
  /** A secret: an error about it never shows the value. */
  secret?: boolean
  parse(value: string): Config[K]
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

// Each entry is typed by the key it fills; the array keeps --help in this order.
export const SETTINGS: Array<Setting<keyof Config>> = [
  {
    env: 'PINERY_DATA_DIR', key: 'dataDir', default: './data',
    description: 'blocks in <dir>/blocks, records, tokens and the libp2p key in <dir>/datastore',
    parse: (v) => resolve(nonEmpty('a directory')(v))
  },
  {
    env: 'PINERY_HTTP_HOST', key: 'httpHost', default: '127.0.0.1',
    description: 'address the HTTP API listens on (0.0.0.0 for every interface)',
    parse: nonEmpty('an address such as 127.0.0.1 or 0.0.0.0')
  },
  {
    env: 'PINERY_HTTP_PORT', key: 'httpPort', default: '7070',
    description: 'port of the HTTP API (0 picks a free one)',
    parse: integer(0, 65535)
  },
  {
    env: 'PINERY_LISTEN', key: 'listen', default: '/ip4/0.0.0.0/tcp/4101',
    description: 'comma-separated libp2p TCP listen multiaddrs',
    parse: (v) => {
      const list = parseMultiaddrList(v, { requireTcp: true })
      if (list.length === 0) throw new Error('must name at least one TCP multiaddr')
      return list
    }
  },
  {
    env: 'PINERY_ANNOUNCE', key: 'announce', default: '',
    description: 'comma-separated multiaddrs handed out as delegates (default: the listen addresses, wildcards ' +
      'expanded, each ending /p2p/<peerId>)',
    parse: (v) => parseMultiaddrList(v, { requireTcp: false })
  },
  {
    env: 'PINERY_DIAL_ALLOW', key: 'dialAllow', default: '',
    description: 'comma-separated CIDRs, addresses and host names the node may dial although they are loopback, link-' +
      'local, private, unspecified or multicast (refused by default)',
    parse: parseDialAllow
  },
  {
    env: 'PINERY_ADMIN_TOKEN', key: 'adminToken', default: '',
    description: 'bootstrap token of the admin user; if unset on first start one is generated, printed once and ' +
      'written to <dir>/admin-token',
    secret: true,
    parse: adminToken
  },
  {
    env: 'PINERY_KEY_PASSWORD', key: 'keyPassword', default: '',
    description: 'when set (12 characters or more), the libp2p private key is stored encrypted with it (an existing ' +
      'plain key is encrypted at start); the same password is needed at every start',
    secret: true,
    parse: keyPassword
  },
  {
    env: 'PINERY_PIN_CONCURRENCY', key: 'pinConcurrency', default: '64',
    description: 'pins fetched at once',
    parse: integer(1, 1024)
  },
  {
    env: 'PINERY_MAX_PENDING_PER_USER', key: 'maxPendingPerUser', default: '10000',
    description: 'requests one user may have queued or pinning at once; more answer 409 TOO_MANY_PENDING',
    parse: integer(1, 100_000_000)
  },
  {
    env: 'PINERY_MAX_META_BYTES_PER_USER', key: 'maxMetaBytesPerUser', default: String(64 * 1024 * 1024),
    description: 'bytes of meta (as JSON) one user\'s requests may carry in all; more answer 409 INSUFFICIENT_FUNDS',
    parse: integer(16 * 1024, 1e12)
  },
  {
    env: 'PINERY_STALL_TIMEOUT_MS', key: 'stallTimeoutMs', default: '120000',
    description: 'a pin that makes no progress for this long becomes failed',
    parse: integer(100, 86_400_000)
  },
  {
    env: 'PINERY_GC_INTERVAL_MS', key: 'gcIntervalMs', default: '30000',
    description: 'how often unreferenced blocks are garbage-collected',
    parse: integer(100, 86_400_000)
  },
  {
    env: 'PINERY_FETCH_CONCURRENCY', key: 'fetchConcurrency', default: '256',
    description: 'blocks requested at once across all fetches (one DAG may use them all); bounds the memory fetches ' +
      'hold',
    parse: integer(1, 4096)
  },
  {
    env: 'PINERY_REWANT_AFTER_MS', key: 'rewantAfterMs', default: '2000',
    description: 're-request the blocks in flight when none arrived for this long (bitswap can lose a want)',
    parse: integer(100, 3_600_000)
  },
  {
    env: 'PINERY_WANTLIST_DEBOUNCE_MS', key: 'wantlistDebounceMs', default: '5',
    description: 'how long bitswap gathers wants before sending them',
    parse: integer(0, 1000)
  },
  {
    env: 'PINERY_BITSWAP', key: 'bitswap', default: 'lean',
    description: 'which bitswap fetches pins and serves peers: "lean" (Pinery\'s own) or "helia" (@helia/bitswap)',
    parse: oneOf('lean', 'helia')
  },
  {
    env: 'PINERY_MAX_BODY_BYTES', key: 'maxBodyBytes', default: '1048576',
    description: 'largest accepted JSON request body (bigger gets 413)',
    parse: integer(1024, 64 * 1024 * 1024)
  },
  {
    env: 'PINERY_MIN_FREE_BYTES', key: 'minFreeBytes', default: '268435456',
    description: 'GET /health reports the blockstore failing below this much free disk',
    parse: integer(0, Number.MAX_SAFE_INTEGER)
  },
  {
    env: 'PINERY_METRICS_TOKEN', key: 'metricsToken', default: '',
    description: 'when set, GET /metrics needs "Authorization: Bearer <this>"; otherwise it is open',
    secret: true,
    parse: (v) => v === '' ? undefined : v
  },
  {
    env: 'PINERY_GATEWAY_AUTH', key: 'gatewayAuth', default: 'token',
    description: 'who may read pinned content at GET /ipfs/<cid>[/path]: "token" (a token with pins:read) or "none" ' +
      '(anyone who can reach the API)',
    parse: oneOf('token', 'none')
  },
  {
    env: 'PINERY_MAX_UPLOAD_BLOCKS', key: 'maxUploadBlocks', default: '500000',
    description: 'blocks one POST /content may store (each is held in memory until the upload settles); ' +
      'one more answers 413',
    parse: integer(1, 100_000_000)
  },
  {
    env: 'PINERY_RATE_LIMIT', key: 'rateLimitPerSecond', default: '0',
    description: 'requests per second allowed per user, all their tokens together (0: no limit); over it answers 429 ' +
      'with Retry-After',
    parse: integer(0, 1_000_000)
  },
  {
    env: 'PINERY_RATE_BURST', key: 'rateLimitBurst', default: '100',
    description: 'requests a user may make at once before the rate limit applies',
    parse: integer(1, 1_000_000)
  },
  {
    env: 'PINERY_MAX_TOKENS_PER_USER', key: 'maxTokensPerUser', default: '100',
    description: 'tokens one user may hold; creating another answers 409 CONFLICT',
    parse: integer(1, 1_000_000)
  },
  {
    env: 'PINERY_CORS_ORIGINS', key: 'corsOrigins', default: '',
    description: 'comma-separated origins allowed to call the API from a browser, or * (default: CORS off)',
    parse: commaList
  },
  {
    env: 'PINERY_ALLOWED_HOSTS', key: 'allowedHosts', default: '',
    description: 'comma-separated names (pinery.lan), domains with every name below (.home.arpa) or * by which ' +
      'GET /health, /metrics and a public gateway answer without credentials, besides IP addresses, localhost ' +
      'and this machine\'s host name (against DNS rebinding)',
    parse: (v) => {
      const list = commaList(v.toLowerCase()).map(s => s.replace(/(.)\.$/, '$1'))
      const bad = list.find(s => !ALLOWED_HOST.test(s))
      if (bad != null) throw new Error(`"${bad}" is not a host name, a .domain or *`)
      return list
    }
  },
  {
    env: 'PINERY_REQUEST_TIMEOUT_MS', key: 'requestTimeoutMs', default: '30000',
    description: 'a request (headers and body) not received within this long is answered 408',
    parse: integer(1000, 3_600_000)
  },
  {
    env: 'PINERY_MAX_HTTP_CONNECTIONS', key: 'maxHttpConnections', default: '1024',
    description: 'open HTTP connections at most, further ones are closed at once; never more than a quarter ' +
      "of the process's open-file limit, so a flood of connections cannot starve the block and datastore files",
    parse: integer(8, 1_000_000)
  },
  {
    env: 'PINERY_MAX_HTTP_CONNECTIONS_PER_ADDRESS', key: 'maxHttpConnectionsPerAddress', default: '256',
    description: 'open HTTP connections from one remote address at most, never more than a quarter of the ' +
      'HTTP cap, so one flooding address leaves room for everyone else (behind a reverse proxy every client ' +
      "shares the proxy's address: raise both caps there)",
    parse: integer(4, 1_000_000)
  },
  {
    env: 'PINERY_TRUSTED_PROXIES', key: 'trustedProxies', default: '',
    description: 'comma-separated addresses and CIDRs of reverse proxies in front of the HTTP API: a request from ' +
      'one counts as from the address it names in X-Forwarded-For (failed sign-ins and open requests are limited ' +
      'per client, and the request log names it); from any other peer the header is ignored',
    parse: parseTrustedProxies
  },
  {
    env: 'PINERY_MAX_PEER_CONNECTIONS', key: 'maxPeerConnections', default: '1000',
    description: 'open libp2p connections at most, further inbound ones are refused; never more than a quarter ' +
      "of the process's open-file limit, so peers dialling in cannot starve the block and datastore files",
    parse: integer(8, 1_000_000)
  },
  {
    env: 'PINERY_INBOUND_CONNECTIONS_PER_SECOND', key: 'inboundConnectionsPerSecond', default: '64',
    description: 'inbound libp2p connections a second to the whole node (each costs ~6 ms of CPU before anything ' +
      'else limits it), besides 50 a second from one IPv4 address or IPv6 /64; peers the node dialled are spared',
    parse: integer(1, 1_000_000)
  },
  {
    env: 'PINERY_SHUTDOWN_TIMEOUT_MS', key: 'shutdownTimeoutMs', default: '10000',
    description: 'on SIGTERM/SIGINT, exit after this long even if stopping has not finished',
    parse: integer(100, 600_000)
  },
  {
    env: 'PINERY_EVENT_LOG_MAX_EVENTS', key: 'eventLogMaxEvents', default: '100000',
    description: 'events the event log keeps at most (GET /events resumes within them)',
    parse: integer(100, 100_000_000)
  },
  {
    env: 'PINERY_EVENT_LOG_MAX_AGE_MS', key: 'eventLogMaxAgeMs', default: '604800000',
    description: 'events older than this are dropped from the event log',
    parse: integer(60_000, 365 * 86_400_000)
  },
  {
    env: 'PINERY_EVENT_HEARTBEAT_MS', key: 'eventHeartbeatMs', default: '15000',
    description: 'GET /events sends a heartbeat comment this often',
    parse: integer(100, 3_600_000)
  },
  {
    env: 'PINERY_EVENT_STREAM_BUFFER_BYTES', key: 'eventStreamBufferBytes', default: '1048576',
    description: 'bytes queued for one GET /events client before it is disconnected as too slow',
    parse: integer(16 * 1024, 1024 * 1024 * 1024)
  },
  {
    env: 'PINERY_WEBHOOK_ALLOW', key: 'webhookAllow', default: '',
    description: 'comma-separated hosts, addresses and CIDRs webhooks may target although refused by default ' +
      '(loopback, private, link-local, this node)',
    parse: (v) => { const list = commaList(v); createTargetPolicy({ allow: list }); return list }
  },
  {
    env: 'PINERY_WEBHOOK_TIMEOUT_MS', key: 'webhookTimeoutMs', default: '10000',
    description: 'one webhook delivery may take this long',
    parse: integer(100, 600_000)
  },
  {
    env: 'PINERY_WEBHOOK_RETRY_MIN_MS', key: 'webhookRetryMinMs', default: '1000',
    description: 'first retry of a failed delivery after about this long (doubling each time, with jitter)',
    parse: integer(10, 86_400_000)
  },
  {
    env: 'PINERY_WEBHOOK_RETRY_MAX_MS', key: 'webhookRetryMaxMs', default: '3600000',
    description: 'longest wait between retries of a delivery',
    parse: integer(10, 86_400_000)
  },
  {
    env: 'PINERY_WEBHOOK_DISABLE_AFTER_MS', key: 'webhookDisableAfterMs', default: '86400000',
    description: 'a webhook whose deliveries fail for this long is disabled (with the reason) until re-enabled',
    parse: integer(1000, 30 * 86_400_000)
  },
  {
    env: 'PINERY_LOG_LEVEL', key: 'logLevel', default: 'info',
    description: `log level: ${LOG_LEVELS.join(', ')}`,
    parse: (v) => { if (!LOG_LEVELS.includes(v)) throw new Error(`expected one of ${LOG_LEVELS.join(', ')}`); return v }
  }
]
