// Sender-key chains and message envelopes (docs/e2e.md, "Sender-key
// chains", "Message envelope"). The ratchet is HKDF-Expand (@noble/hashes:
// WebCrypto has no Expand alone), messages AES-256-GCM (WebCrypto) and
// Ed25519 signatures by the chain's own key.
import { ed25519 } from '../vendor/@noble/curves/ed25519.js';
import { expand } from '../vendor/@noble/hashes/hkdf.js';
import { sha256 } from '../vendor/@noble/hashes/sha2.js';
import { bytes, concat, equal, randomBytes, readU32, str, u32 } from './bytes.js';
import { verify } from './identity.js';

export const VERSION = 0x01;
export const TYPE_MESSAGE = 0x01;
export const TYPE_SENDER_KEY = 0x02;
export const TYPE_DISTRIBUTION = 0x03;

export class DecryptError extends Error {
  constructor() {
    super('e2e: message failed to authenticate');
  }
}

export class FormatError extends Error {
  constructor(what = 'malformed input') {
    super(`e2e: ${what}`);
  }
}

const HEADER = 2 + 16 + 4;
const SIG = 64;
const PAD_BLOCK = 128;
export const SENDER_KEY_SIZE = 16 + 4 + 32 + 32;

// When a sending device starts a new chain, as the Go client does.
export const MAX_CHAIN_AGE_MS = 7 * 24 * 3600 * 1000;
export const MAX_CHAIN_MESSAGES = 10000;
// A receiver refuses a message this far ahead and keeps this many skipped keys.
export const MAX_SKIP = 2000;
export const MAX_SKIPPED_KEYS = 2000;

/** One ratchet step from chain key ck: the 44-byte message key (AES key, nonce) and the next chain key. */
export function step(ck) {
  return {
    messageKey: expand(sha256, ck, bytes('courier-e2e-v1 message key'), 44),
    next: expand(sha256, ck, bytes('courier-e2e-v1 chain key'), 32),
  };
}

/** The 84-byte sender key: chain ID, iteration, chain key, signing public key. */
export function marshalSenderKey(k) {
  return concat(k.chainID, u32(k.iteration), k.chainKey, k.signingKey);
}

export function unmarshalSenderKey(b) {
  if (b.length !== SENDER_KEY_SIZE) throw new FormatError('bad sender key');
  return { chainID: b.slice(0, 16), iteration: readU32(b, 16), chainKey: b.slice(20, 52), signingKey: b.slice(52, 84) };
}

/** The GCM additional data: label, zero, str(conversation), str(sender device), header. */
export function envelopeAAD(conversationID, senderDeviceID, header) {
  return concat(bytes('courier-e2e-v1 message'), new Uint8Array([0]), str(conversationID), str(senderDeviceID), header);
}

/** ISO/IEC 7816-4 padding to a multiple of 128 bytes, always at least one byte. */
export function pad(p) {
  const out = new Uint8Array((Math.floor(p.length / PAD_BLOCK) + 1) * PAD_BLOCK);
  out.set(p);
  out[p.length] = 0x80;
  return out;
}

export function unpad(p) {
  let i = p.length - 1;
  while (i >= 0 && p[i] === 0) i--;
  if (i < 0 || p[i] !== 0x80) throw new FormatError('bad padding');
  return p.slice(0, i);
}

async function gcm(op, mk, aad, data) {
  const key = await crypto.subtle.importKey('raw', mk.subarray(0, 32), 'AES-GCM', false, [op]);
  const params = { name: 'AES-GCM', iv: mk.subarray(32, 44), additionalData: aad };
  return new Uint8Array(await crypto.subtle[op](params, key, data));
}

/** The parts of an envelope, or FormatError. */
export function parseEnvelope(b) {
  if (b.length < HEADER + 16 + SIG || b[0] !== VERSION || b[1] !== TYPE_MESSAGE) throw new FormatError('not an envelope');
  return {
    chainID: b.slice(2, 18),
    iteration: readU32(b, 18),
    header: b.subarray(0, HEADER),
    ciphertext: b.subarray(HEADER, b.length - SIG),
    signature: b.subarray(b.length - SIG),
  };
}

/**
 * The sending side of a chain: one per sending device and conversation.
 * Its state is a plain object (state()), for IndexedDB.
 */
export class SenderChain {
  constructor({ chainID, chainKey, signingSeed, iteration = 0, created = Date.now(), recipients = [] }) {
    this.chainID = Uint8Array.from(chainID);
    this.chainKey = Uint8Array.from(chainKey);
    this.signingSeed = Uint8Array.from(signingSeed);
    this.signingKey = ed25519.getPublicKey(this.signingSeed);
    this.iteration = iteration;
    this.created = created;
    this.recipients = [...recipients];
  }

  static generate(recipients = []) {
    return new SenderChain({ chainID: randomBytes(16), chainKey: randomBytes(32), signingSeed: randomBytes(32), recipients });
  }

  state() {
    const { chainID, chainKey, signingSeed, iteration, created, recipients } = this;
    return { chainID, chainKey, signingSeed, iteration, created, recipients };
  }

  /** The sender key to seal for recipients: from this iteration on. */
  senderKey() {
    return marshalSenderKey(this);
  }

  /** Whether a new chain is due: other recipients, too old, or too many messages. */
  needsRotation(now, recipients) {
    if (now - this.created > MAX_CHAIN_AGE_MS || this.iteration >= MAX_CHAIN_MESSAGES) return true;
    const a = new Set(this.recipients);
    return a.size !== new Set(recipients).size || recipients.some((r) => !a.has(r));
  }

  /** Seals plaintext as the chain's next message; the chain key moves past it. */
  async encrypt(conversationID, senderDeviceID, plaintext) {
    const { messageKey, next } = step(this.chainKey);
    const header = concat(new Uint8Array([VERSION, TYPE_MESSAGE]), this.chainID, u32(this.iteration));
    this.chainKey = next;
    this.iteration++;
    const aad = envelopeAAD(conversationID, senderDeviceID, header);
    const ct = await gcm('encrypt', messageKey, aad, pad(bytes(plaintext)));
    const sig = ed25519.sign(concat(aad, ct), this.signingSeed);
    return concat(header, ct, sig);
  }
}

/**
 * A recipient's copy of another device's chain. Each message key is used
 * once: a replay fails. Keys of skipped iterations are kept for messages
 * that arrive out of order.
 */
export class ReceiverChain {
  constructor(conversationID, senderDeviceID, key, skipped = []) {
    this.conversationID = conversationID;
    this.senderDeviceID = senderDeviceID;
    this.key = { ...key };
    this.skipped = new Map(skipped); // iteration -> message key, oldest first
  }

  static fromState(s) {
    return new ReceiverChain(s.conversationID, s.senderDeviceID, s.key, s.skipped);
  }

  state() {
    return { conversationID: this.conversationID, senderDeviceID: this.senderDeviceID, key: { ...this.key },
      skipped: [...this.skipped] };
  }

  get chainID() {
    return this.key.chainID;
  }

  /** Opens an envelope of this chain; the signature is checked before any key is derived. */
  async decrypt(envelope) {
    const e = parseEnvelope(envelope);
    if (!equal(e.chainID, this.key.chainID)) throw new DecryptError();
    const aad = envelopeAAD(this.conversationID, this.senderDeviceID, e.header);
    if (!verify(this.key.signingKey, concat(aad, e.ciphertext), e.signature)) throw new DecryptError();
    const mk = this.messageKey(e.iteration);
    let padded;
    try {
      padded = await gcm('decrypt', mk, aad, e.ciphertext);
    } catch {
      throw new DecryptError();
    }
    return unpad(padded);
  }

  messageKey(it) {
    if (this.skipped.has(it)) {
      const mk = this.skipped.get(it);
      this.skipped.delete(it);
      return mk;
    }
    if (it < this.key.iteration) throw new DecryptError(); // used already, or from before this device had the chain
    if (it - this.key.iteration > MAX_SKIP) throw new Error('e2e: message too far ahead of its chain');
    while (this.key.iteration < it) {
      const { messageKey, next } = step(this.key.chainKey);
      this.skipped.set(this.key.iteration, messageKey);
      for (const k of this.skipped.keys()) {
        if (this.skipped.size <= MAX_SKIPPED_KEYS) break;
        this.skipped.delete(k);
      }
      this.key.chainKey = next;
      this.key.iteration++;
    }
    const { messageKey, next } = step(this.key.chainKey);
    this.key.chainKey = next;
    this.key.iteration++;
    return messageKey;
  }
}
