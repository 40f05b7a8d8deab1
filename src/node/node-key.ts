/**
 * The libp2p private key (the node's peer ID). Without PINERY_KEY_PASSWORD
 * Helia keeps it in libp2p's keychain as always (`/pkcs8/self`, sealed with
 * an empty password: readable by anyone who can read the data dir). With a
 * password it is kept in an envelope of our own at `/pinery/node-key`:
 * scrypt (memory-hard, so a copied data dir resists guessing far better
 * than the keychain's PBKDF2, which uses one library-wide salt and wants
 * 20+ characters) and AES-256-GCM, whose tag tells a wrong password apart
 * from a damaged key. An existing plain key is sealed on the first start
 * with a password, so the peer ID stays, and its plain copy is deleted and
 * compacted out of LevelDB's files.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { AES_GCM } from '@libp2p/crypto/ciphers'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { Key } from 'interface-datastore'
import { base64 } from 'multiformats/bases/base64'
import { ConfigError } from '../errors.js'
import { getOrUndefined } from './storage.js'
import type { PrivateKey } from '@libp2p/interface'
import type { LevelDatastore } from 'datastore-level'

/** Settings of the key. */
export interface NodeKeyInit {
  /** PINERY_KEY_PASSWORD; without it the key stays where Helia keeps it. */
  password?: string
}

/** Where the key lives. */
export interface NodeKeyComponents {
  datastore: LevelDatastore
  /** Makes every datastore write so far durable. */
  sync(): Promise<void>
}

/** The sealed key as stored (JSON; binary fields base64). */
interface Envelope {
  v: 1
  kdf: 'scrypt'
  N: number
  r: number
  p: number
  salt: string
  iv: string
  tag: string
  data: string
}

const ENVELOPE_KEY = new Key('/pinery/node-key')
// libp2p's keychain entries for its self key (what @libp2p/config's loadOrCreateSelfKey reads).
const KEYCHAIN_KEY = new Key('/pkcs8/self')
const KEYCHAIN_INFO = new Key('/info/self')
// ~32 MiB and ~0.1 s per start: OWASP's scrypt minimum is N=2^17 with r=8 at 128 MiB; this is
// the strongest setting that stays cheap on a small machine.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 }
const AAD = Buffer.from('pinery node key v1')

type ScryptParams = typeof SCRYPT

async function deriveKey (password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const maxmem = 256 * params.N * params.r * params.p
  return await new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, 32, { ...params, maxmem }, (err, key) => {
      if (err != null) reject(err)
      else resolve(key)
    })
  })
}

async function seal (key: PrivateKey, password: string): Promise<Envelope> {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', await deriveKey(password, salt, SCRYPT), iv)
  cipher.setAAD(AAD)
  const data = Buffer.concat([cipher.update(privateKeyToProtobuf(key)), cipher.final()])
  const b64 = (bytes: Buffer): string => bytes.toString('base64')
  const tag = cipher.getAuthTag()
  return { v: 1, kdf: 'scrypt', ...SCRYPT, salt: b64(salt), iv: b64(iv), tag: b64(tag), data: b64(data) }
}

async function open (envelope: Envelope, password: string): Promise<PrivateKey> {
  const bytes = (text: string): Buffer => Buffer.from(text, 'base64')
  if (envelope.v !== 1 || envelope.kdf !== 'scrypt') {
    throw new ConfigError('the stored libp2p key is sealed in a format this version does not know')
  }
  const derived = await deriveKey(password, bytes(envelope.salt), envelope)
  const decipher = createDecipheriv('aes-256-gcm', derived, bytes(envelope.iv))
  decipher.setAAD(AAD)
  decipher.setAuthTag(bytes(envelope.tag))
  let plain: Buffer
  try {
    plain = Buffer.concat([decipher.update(bytes(envelope.data)), decipher.final()])
  } catch {
    throw new ConfigError('PINERY_KEY_PASSWORD does not open the stored libp2p key (wrong password?)')
  }
  return privateKeyFromProtobuf(plain)
}

/**
 * The node's private key for libp2p, or undefined when Helia is to load (or
 * create) the plain one itself. Throws a one-line ConfigError for a missing
 * or wrong password; the password is never part of a message.
 */
export async function loadNodeKey (init: NodeKeyInit, components: NodeKeyComponents): Promise<PrivateKey | undefined> {
  const { datastore } = components
  const stored = await getOrUndefined(datastore, ENVELOPE_KEY)
  if (stored != null) {
    if (init.password == null) {
      throw new ConfigError('the libp2p key is stored encrypted: set PINERY_KEY_PASSWORD to start')
    }
    return await open(JSON.parse(Buffer.from(stored).toString('utf8')) as Envelope, init.password)
  }
  if (init.password == null) return undefined
  const plain = await getOrUndefined(datastore, KEYCHAIN_KEY)
  let key: PrivateKey
  try {
    // The keychain's libp2p-key format: multibase base64 of AES-GCM with the keychain's (empty) password.
    key = plain == null
      ? await generateKeyPair('Ed25519')
      : privateKeyFromProtobuf(await AES_GCM.create().decrypt(base64.decode(Buffer.from(plain).toString('utf8')), ''))
  } catch (err) {
    throw new ConfigError(`the stored libp2p key cannot be read to encrypt it: ${(err as Error).message}`)
  }
  const batch = datastore.batch()
  batch.put(ENVELOPE_KEY, Buffer.from(JSON.stringify(await seal(key, init.password))))
  if (plain != null) {
    batch.delete(KEYCHAIN_KEY)
    batch.delete(KEYCHAIN_INFO)
  }
  await batch.commit()
  await components.sync()
  if (plain != null) {
    // A deleted value stays in LevelDB's log and tables until compacted away. `level` is classic-level
    // in Node, which has compactRange; its types cover the browser too, which has not.
    const db = datastore.db as unknown as { compactRange(start: string, end: string): Promise<void> }
    for (const name of [KEYCHAIN_KEY, KEYCHAIN_INFO].map(String)) await db.compactRange(name, name)
  }
  return key
}
