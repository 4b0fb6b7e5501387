// HPKE base mode (RFC 9180 §5.1.1) for the suite of docs/e2e.md: KDF
// HKDF-SHA256 (0x0001), AEAD AES-256-GCM (0x0002), KEM X-Wing
// MLKEM768-X25519 (0x647a, draft-ietf-hpke-pq) or DHKEM(X25519,
// HKDF-SHA256) (0x0020). ChaCha20-Poly1305 (0x0003) is here only because
// the published X-Wing vectors use it (test/vectors.test.js).
//
// Every primitive comes from a library: X25519 from @noble/curves, X-Wing
// from @noble/post-quantum (its ml_kem768_x25519 is X-Wing), HKDF's Extract
// and Expand and SHAKE256 from @noble/hashes (WebCrypto's HKDF runs both
// steps at once, and HPKE labels each one apart), AES-256-GCM from
// WebCrypto. This file is the RFC's key schedule over them, and it is
// checked against the published vectors (client/e2e/testdata/hpke-spec.json).
import { x25519 } from '../vendor/@noble/curves/ed25519.js';
import { ml_kem768_x25519 as xwing } from '../vendor/@noble/post-quantum/hybrid.js';
import { extract, expand } from '../vendor/@noble/hashes/hkdf.js';
import { sha256 } from '../vendor/@noble/hashes/sha2.js';
import { shake256 } from '../vendor/@noble/hashes/sha3.js';
import { chacha20poly1305 } from '../vendor/@noble/ciphers/chacha.js';
import { bytes, concat, equal, u16 } from './bytes.js';

export const KEM_X25519 = 0x0020;
export const KEM_XWING = 0x647a;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES256GCM = 0x0002;
export const AEAD_CHACHA20POLY1305 = 0x0003;

const V1 = bytes('HPKE-v1');
const empty = new Uint8Array(0);

// RFC 9180 §4: the labeled two-stage KDF, bound to a suite ID.
function labeledExtract(suiteID, salt, label, ikm) {
  return extract(sha256, concat(V1, suiteID, bytes(label), ikm), salt);
}

function labeledExpand(suiteID, prk, label, info, length) {
  return expand(sha256, prk, concat(u16(length), V1, suiteID, bytes(label), info), length);
}

// draft-ietf-hpke-pq: the one-stage LabeledDerive over SHAKE256 that
// X-Wing's DeriveKeyPair uses.
function labeledDeriveShake(suiteID, ikm, label, context, length) {
  const l = bytes(label);
  return shake256(concat(ikm, V1, suiteID, u16(l.length), l, u16(length), context), { dkLen: length });
}

/**
 * DHKEM(X25519, HKDF-SHA256), RFC 9180 §4.1 and §7.1. Private keys are the
 * clamped 32-byte scalar, as Go's SerializePrivateKey writes them.
 */
const dhkemX25519 = {
  id: KEM_X25519,
  name: 'x25519',
  publicKeySize: 32,
  encSize: 32,
  suiteID: concat(bytes('KEM'), u16(KEM_X25519)),
  deriveKeyPair(ikm) {
    const prk = labeledExtract(this.suiteID, empty, 'dkp_prk', ikm);
    return this.keyPair(labeledExpand(this.suiteID, prk, 'sk', empty, 32));
  },
  generateKeyPair() {
    return this.keyPair(x25519.utils.randomSecretKey());
  },
  keyPair(sk) {
    const c = Uint8Array.from(sk);
    c[0] &= 248;
    c[31] = (c[31] & 127) | 64;
    return { privateKey: c, publicKey: x25519.getPublicKey(c) };
  },
  publicKey(sk) {
    return x25519.getPublicKey(sk);
  },
  dh(sk, pk) {
    const dh = x25519.getSharedSecret(sk, pk);
    if (equal(dh, new Uint8Array(32))) throw new Error('hpke: X25519 produced the zero point');
    return dh;
  },
  extractAndExpand(dh, kemContext) {
    const prk = labeledExtract(this.suiteID, empty, 'eae_prk', dh);
    return labeledExpand(this.suiteID, prk, 'shared_secret', kemContext, 32);
  },
  encap(pkR, ephemeral = this.generateKeyPair()) {
    const enc = ephemeral.publicKey;
    const dh = this.dh(ephemeral.privateKey, pkR);
    return { enc, sharedSecret: this.extractAndExpand(dh, concat(enc, pkR)) };
  },
  decap(enc, skR) {
    if (enc.length !== 32) throw new Error('hpke: bad X25519 enc');
    const dh = this.dh(skR, enc);
    return this.extractAndExpand(dh, concat(enc, this.publicKey(skR)));
  },
};

/**
 * X-Wing (MLKEM768-X25519, draft-ietf-hpke-pq): private keys are the
 * 32-byte seed, public keys 1216 bytes, enc 1120.
 */
const xwingKEM = {
  id: KEM_XWING,
  name: 'xwing',
  publicKeySize: 1216,
  encSize: 1120,
  suiteID: concat(bytes('KEM'), u16(KEM_XWING)),
  deriveKeyPair(ikm) {
    return this.keyPair(labeledDeriveShake(this.suiteID, ikm, 'DeriveKeyPair', empty, 32));
  },
  generateKeyPair() {
    return this.keyPair(crypto.getRandomValues(new Uint8Array(32)));
  },
  keyPair(seed) {
    return { privateKey: Uint8Array.from(seed), publicKey: xwing.getPublicKey(seed) };
  },
  publicKey(sk) {
    return xwing.getPublicKey(sk);
  },
  encap(pkR) {
    if (pkR.length !== this.publicKeySize) throw new Error('hpke: bad X-Wing public key');
    const { cipherText, sharedSecret } = xwing.encapsulate(pkR);
    return { enc: cipherText, sharedSecret };
  },
  decap(enc, skR) {
    if (enc.length !== this.encSize) throw new Error('hpke: bad X-Wing enc');
    return xwing.decapsulate(enc, skR);
  },
};

const kems = { [KEM_X25519]: dhkemX25519, [KEM_XWING]: xwingKEM };

/** The KEM of an HPKE KEM ID, or of its directory name ("xwing", "x25519"). */
export function kem(id) {
  const k = typeof id === 'string' ? Object.values(kems).find((x) => x.name === id) : kems[id];
  if (!k) throw new Error(`hpke: unknown kem ${id}`);
  return k;
}

// The AEADs: WebCrypto's AES-GCM, noble's ChaCha20-Poly1305.
const aeads = {
  [AEAD_AES256GCM]: {
    keySize: 32,
    async seal(key, nonce, aad, pt) {
      const k = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
      return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, k, pt));
    },
    async open(key, nonce, aad, ct) {
      const k = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, k, ct));
    },
  },
  [AEAD_CHACHA20POLY1305]: {
    keySize: 32,
    async seal(key, nonce, aad, pt) {
      return chacha20poly1305(key, nonce, aad).encrypt(pt);
    },
    async open(key, nonce, aad, ct) {
      return chacha20poly1305(key, nonce, aad).decrypt(ct);
    },
  },
};

/**
 * A base-mode HPKE context (RFC 9180 §5.1, §5.2): each seal or open uses
 * the next sequence number, so opens must follow seals in order.
 */
class Context {
  constructor(kemID, aeadID, sharedSecret, info) {
    const aead = aeads[aeadID];
    if (!aead) throw new Error(`hpke: unknown aead ${aeadID}`);
    const suiteID = concat(bytes('HPKE'), u16(kemID), u16(KDF_HKDF_SHA256), u16(aeadID));
    const pskIDHash = labeledExtract(suiteID, empty, 'psk_id_hash', empty);
    const infoHash = labeledExtract(suiteID, empty, 'info_hash', info);
    const ksContext = concat(new Uint8Array([0]), pskIDHash, infoHash); // mode_base
    const secret = labeledExtract(suiteID, sharedSecret, 'secret', empty); // psk = ""
    this.aead = aead;
    this.key = labeledExpand(suiteID, secret, 'key', ksContext, aead.keySize);
    this.baseNonce = labeledExpand(suiteID, secret, 'base_nonce', ksContext, 12);
    this.seq = 0;
  }

  nonce() {
    const n = Uint8Array.from(this.baseNonce);
    for (let i = 11, s = this.seq; s > 0; i--, s = Math.floor(s / 256)) n[i] ^= s & 0xff;
    return n;
  }

  async seal(aad, pt) {
    const ct = await this.aead.seal(this.key, this.nonce(), aad, pt);
    this.seq++;
    return ct;
  }

  async open(aad, ct) {
    const pt = await this.aead.open(this.key, this.nonce(), aad, ct);
    this.seq++;
    return pt;
  }
}

/** SetupBaseS: encapsulates to pkR; returns the enc to send and a sealing context. */
export function setupSender(kemID, pkR, info, aeadID = AEAD_AES256GCM) {
  const { enc, sharedSecret } = kem(kemID).encap(pkR);
  return { enc, context: new Context(kemID, aeadID, sharedSecret, info) };
}

/** SetupBaseR: decapsulates enc with skR; returns an opening context. */
export function setupRecipient(kemID, enc, skR, info, aeadID = AEAD_AES256GCM) {
  return new Context(kemID, aeadID, kem(kemID).decap(enc, skR), info);
}
