// Device identity and prekeys (docs/e2e.md, "Keys of a device"). Ed25519
// comes from @noble/curves, checked strictly as Go's crypto/ed25519 does
// (no ZIP-215 leniency), so both clients accept exactly the same signatures.
import { ed25519 } from '../vendor/@noble/curves/ed25519.js';
import { bytes, concat, randomBytes, u16, u32 } from './bytes.js';
import { kem } from './hpke.js';

/** Prekey kinds, by their directory names. */
export const KIND = { one_time: 1, signed: 2, last_resort: 3 };
const kindNames = Object.fromEntries(Object.entries(KIND).map(([k, v]) => [v, k]));

export function kindName(kind) {
  return typeof kind === 'string' ? kind : kindNames[kind];
}

function kindByte(kind) {
  const k = typeof kind === 'string' ? KIND[kind] : kind;
  if (!kindNames[k]) throw new Error(`e2e: unknown prekey kind ${kind}`);
  return k;
}

/** verify checks an Ed25519 signature as Go's ed25519.Verify does. */
export function verify(publicKey, message, signature) {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** A device's long-term signing key, kept as its 32-byte seed. */
export class Identity {
  constructor(seed) {
    if (seed.length !== 32) throw new Error('e2e: an identity seed is 32 bytes');
    this.seed = Uint8Array.from(seed);
    this.publicKey = ed25519.getPublicKey(this.seed);
  }

  static generate() {
    return new Identity(randomBytes(32));
  }

  sign(data) {
    return ed25519.sign(data, this.seed);
  }

  /** A new random prekey of kem ("xwing" or "x25519") and kind, signed. */
  newPrekey(kemName, kind, keyID) {
    return this.signPrekey(kem(kemName).generateKeyPair(), kemName, kind, keyID);
  }

  /** The prekey of HPKE's DeriveKeyPair(ikm): how the vectors pin prekeys. */
  derivePrekey(kemName, kind, keyID, ikm) {
    return this.signPrekey(kem(kemName).deriveKeyPair(ikm), kemName, kind, keyID);
  }

  signPrekey(pair, kemName, kind, keyID) {
    const p = { key_id: keyID, kem: kem(kemName).name, kind: kindName(kind), public_key: pair.publicKey };
    p.signature = this.sign(prekeySignedData(p));
    return { public: p, privateKey: pair.privateKey };
  }
}

/** What a prekey's signature covers; the directory checks the same bytes. */
export function prekeySignedData(p) {
  return concat(bytes('courier-e2e-v1 prekey'), new Uint8Array([0]), u16(kem(p.kem).id),
    new Uint8Array([kindByte(p.kind)]), u32(p.key_id), p.public_key);
}

/** verifyPrekey checks a fetched prekey: its size and its signature by identityKey. */
export function verifyPrekey(identityKey, p) {
  return p.public_key.length === kem(p.kem).publicKeySize && verify(identityKey, prekeySignedData(p), p.signature);
}
