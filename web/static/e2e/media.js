// Encrypted media (docs/e2e.md, "Media"): fixed-size AES-256-GCM chunks
// (WebCrypto), chunk i under nonce i (11 bytes, big-endian) || last-chunk
// flag, no aad; digest is the SHA-256 of the whole ciphertext.
import { equal, randomBytes } from './bytes.js';
import { DecryptError } from './chain.js';

export const DEFAULT_CHUNK_SIZE = 64 << 10;
export const MIN_CHUNK_SIZE = 16;
export const MAX_CHUNK_SIZE = 4 << 20;
const TAG = 16;

function check(m) {
  if (m.key.length !== 32 || !(m.chunk_size >= MIN_CHUNK_SIZE && m.chunk_size <= MAX_CHUNK_SIZE) || !(m.size >= 0)) {
    throw new Error(`e2e: bad media key (32-byte key, chunk size ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE})`);
  }
}

function chunks(m) {
  return Math.max(1, Math.ceil(m.size / m.chunk_size));
}

/** The size of the encrypted file. */
export function cipherSize(m) {
  return m.size + chunks(m) * TAG;
}

export function chunkNonce(i, last) {
  const n = new Uint8Array(12);
  for (let j = 10; j >= 0 && i > 0; j--, i = Math.floor(i / 256)) n[j] = i % 256;
  n[11] = last ? 1 : 0;
  return n;
}

async function aesKey(key, op) {
  return crypto.subtle.importKey('raw', key, 'AES-GCM', false, [op]);
}

/**
 * Encrypts a file's bytes under a fresh key (or m.key): returns the media
 * key the message carries ({key, chunk_size, size, digest}) and the
 * ciphertext to upload.
 */
export async function encryptMedia(plaintext, { key = randomBytes(32), chunkSize = DEFAULT_CHUNK_SIZE } = {}) {
  const m = { key, chunk_size: chunkSize, size: plaintext.length };
  check(m);
  const k = await aesKey(key, 'encrypt');
  const n = chunks(m);
  const out = new Uint8Array(cipherSize(m));
  for (let i = 0; i < n; i++) {
    const pt = plaintext.subarray(i * chunkSize, Math.min((i + 1) * chunkSize, m.size));
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: chunkNonce(i, i === n - 1) }, k, pt);
    out.set(new Uint8Array(ct), i * (chunkSize + TAG));
  }
  m.digest = new Uint8Array(await crypto.subtle.digest('SHA-256', out));
  return { mediaKey: m, ciphertext: out };
}

/** The ciphertext bytes [start, end) that hold plaintext [off, off+n). */
export function cipherRange(m, off, n) {
  const first = Math.floor(off / m.chunk_size);
  const last = n <= 0 ? first : Math.floor((off + n - 1) / m.chunk_size);
  return { start: first * (m.chunk_size + TAG), end: Math.min((last + 1) * (m.chunk_size + TAG), cipherSize(m)) };
}

/** Decrypts and verifies plaintext [off, off+n) from the bytes cipherRange named. */
export async function decryptRange(m, off, n, cipher) {
  check(m);
  if (off < 0 || n < 0 || off + n > m.size) throw new RangeError('e2e: range outside the file');
  if (n === 0) return new Uint8Array(0);
  const { start, end } = cipherRange(m, off, n);
  if (cipher.length !== end - start) throw new DecryptError();
  const k = await aesKey(m.key, 'decrypt');
  const cs = m.chunk_size;
  const parts = [];
  for (let i = start / (cs + TAG), p = 0; p < cipher.length; i++, p += cs + TAG) {
    try {
      const ct = cipher.subarray(p, Math.min(p + cs + TAG, cipher.length));
      parts.push(new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: chunkNonce(i, i === chunks(m) - 1) }, k, ct)));
    } catch {
      throw new DecryptError();
    }
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  const skip = off - (start / (cs + TAG)) * cs;
  return out.slice(skip, skip + n);
}

/** Decrypts a whole file after checking its size and digest. */
export async function decryptMedia(m, cipher) {
  check(m);
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', cipher));
  if (cipher.length !== cipherSize(m) || !equal(d, m.digest)) throw new DecryptError();
  return decryptRange(m, 0, m.size, cipher);
}
