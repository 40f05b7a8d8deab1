// The page's only way to the server: the same JSON API every client uses,
// authenticated by the HttpOnly session cookie (the page never sees a token)
// and the session's key its sign-in gave.

/** An API error: HTTP status, the Failure body's reason and details. */
export class ApiError extends Error {
  constructor (status, reason, details) {
    super(details || reason || `HTTP ${status}`)
    this.status = status
    this.reason = reason
    this.details = details
  }
}

const listeners = new Set()
const KEY = 'pinery.sessionKey'

/**
 * The session's key, from the answer that signed this page in (kept in this origin's storage, which no
 * other port or subdomain of the host can write): a session cookie another site planted has none here.
 * It is no credential alone (the HttpOnly cookie is one); null forgets it.
 */
export function keepSessionKey (key) {
  pageKey = key
  try {
    if (key == null) localStorage.removeItem(KEY)
    else localStorage.setItem(KEY, key)
  } catch { /* storage off: the key lives as long as this page; a reload asks to sign in again */ }
}

function storedKey () {
  try { return localStorage.getItem(KEY) } catch { return null }
}

// The key this page signed in with, held here too: another tab of this origin that signs in (perhaps as someone
// else) writes its own key to the shared storage and its cookie over this page's. Were this page to send the
// stored key, its requests would act as that tab's user under this page's name (a token made on "Devices of
// alice" went to bob); sending its own, the server refuses them (401) until onSessionKeyChanged has caught up.
let pageKey = storedKey()

function sessionKey () {
  return pageKey
}

/**
 * Calls fn() when another tab of this origin signs in or out (its session key in the shared storage changed):
 * the session cookie is shared too, so this page now speaks for that tab's session, or for none.
 */
export function onSessionKeyChanged (fn) {
  addEventListener('storage', e => {
    if (e.key !== KEY && e.key !== null) return
    const key = storedKey()
    if (key === pageKey) return
    pageKey = key
    fn()
  })
}

/**
 * `headers` with the session's key, for the page's own reads outside api() (fetch of /ipfs/…, /health):
 * when another site on this host has planted a second session cookie, the key tells the server which one
 * is this page's (without it such a request is refused).
 */
export function withKey (headers = {}) {
  const key = sessionKey()
  return key == null ? headers : { ...headers, 'pinery-session-key': key }
}

/** Called with the error whenever the server answers 401 (the session has ended). */
export function onSignedOut (fn) { listeners.add(fn) }

async function failure (res) {
  let reason = ''
  let details = ''
  try {
    const body = await res.json()
    reason = body?.error?.reason ?? ''
    details = body?.error?.details ?? ''
  } catch { /* not JSON */ }
  return new ApiError(res.status, reason || res.statusText, details || `${res.status} ${res.statusText}`)
}

function raise (err, options) {
  if (err.status === 401 && options.signIn !== true) for (const fn of listeners) fn(err)
  throw err
}

/** A JSON request; resolves to the parsed body (or null for an empty one); rejects with ApiError. */
export async function api (path, options = {}) {
  const init = { method: options.method ?? 'GET', headers: {}, credentials: 'same-origin' }
  const key = sessionKey()
  if (key != null) init.headers['pinery-session-key'] = key
  if (options.body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(options.body)
  }
  if (options.signal != null) init.signal = options.signal
  let res
  try {
    res = await fetch(path, init)
  } catch (err) {
    if (err.name === 'AbortError') throw err
    throw new ApiError(0, 'NETWORK', 'the server cannot be reached; check your connection')
  }
  if (!res.ok) raise(await failure(res), options)
  const text = await res.text()
  return text === '' ? null : JSON.parse(text)
}

/** Builds a query string from an object, leaving out empty values. */
export function query (params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/**
 * Sends a body with XMLHttpRequest, which (unlike fetch) reports upload
 * progress: onProgress(loaded, total). Resolves to the parsed JSON answer.
 */
export function upload (path, body, { contentType, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    if (contentType != null) xhr.setRequestHeader('content-type', contentType)
    const key = sessionKey()
    if (key != null) xhr.setRequestHeader('pinery-session-key', key)
    xhr.upload.onprogress = e => { if (onProgress != null) onProgress(e.loaded, e.lengthComputable ? e.total : undefined) }
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload was cut off; check your connection and try again'))
    xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'))
    xhr.onload = () => {
      let body = null
      try { body = xhr.responseText === '' ? null : JSON.parse(xhr.responseText) } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(body); return }
      const err = new ApiError(xhr.status, body?.error?.reason ?? '', body?.error?.details ?? `${xhr.status} ${xhr.statusText}`)
      try { raise(err, {}) } catch (e) { reject(e) }
    }
    if (signal != null) signal.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(body)
  })
}
