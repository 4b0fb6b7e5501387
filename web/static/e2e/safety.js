// Safety numbers and key digests (docs/e2e.md, "Safety numbers", "The key
// directory"), over WebCrypto's SHA-512 and SHA-256.
import { compare, concat, u16, u32 } from './bytes.js';
import { KIND } from './identity.js';
import { kem } from './hpke.js';

const ITERATIONS = 5200;

async function sha(alg, data) {
  return new Uint8Array(await crypto.subtle.digest(alg, data));
}

function sortedKeys(keys) {
  return concat(...[...keys].sort(compare));
}

async function fingerprintDigits(userID, keys) {
  const ks = sortedKeys(keys);
  let h = await sha('SHA-512', concat(new Uint8Array([0, 0]), ks, new TextEncoder().encode(userID)));
  for (let i = 0; i < ITERATIONS; i++) h = await sha('SHA-512', concat(h, ks));
  let s = '';
  for (let i = 0; i < 30; i += 5) {
    let n = 0n;
    for (const c of h.subarray(i, i + 5)) n = (n << 8n) | BigInt(c);
    s += String(n % 100000n).padStart(5, '0');
  }
  return s;
}

/** The 60-digit number two users compare: each user's 30 digits, the smaller first. */
export async function safetyNumber(userA, keysA, userB, keysB) {
  let [a, b] = [await fingerprintDigits(userA, keysA), await fingerprintDigits(userB, keysB)];
  if (b < a) [a, b] = [b, a];
  return a + b;
}

/** Whether two sets of identity keys are the same set. */
export function sameKeys(a, b) {
  return compare(sortedKeys(a), sortedKeys(b)) === 0 && a.length === b.length;
}

/**
 * The key digest of POST /v1/keys/check: SHA-256 over the identity key,
 * then per KEM (X-Wing, X25519), signed then last resort, KEM ID, kind,
 * key ID and public key. One-time keys are left out.
 */
export async function keyDigest(identityKey, prekeys) {
  const parts = [identityKey];
  for (const name of ['xwing', 'x25519']) {
    for (const kind of ['signed', 'last_resort']) {
      for (const p of prekeys.filter((x) => x.kem === name && x.kind === kind)) {
        parts.push(u16(kem(name).id), new Uint8Array([KIND[kind]]), u32(p.key_id), p.public_key);
      }
    }
  }
  return sha('SHA-256', concat(...parts));
}
