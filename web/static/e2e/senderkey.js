// Sealed sender keys and their mailbox distributions (docs/e2e.md,
// "Sealed sender key", "Distribution").
import { bytes, concat, readStr, readU16, readU32, str, u16, u32 } from './bytes.js';
import { setupRecipient, setupSender, kem } from './hpke.js';
import { verify } from './identity.js';
import {
  DecryptError, FormatError, SENDER_KEY_SIZE, TYPE_DISTRIBUTION, TYPE_SENDER_KEY, VERSION, unmarshalSenderKey,
} from './chain.js';

const HEADER = 8;
const SIG = 64;
const CT = SENDER_KEY_SIZE + 16;

/** The HPKE info: label, zero, str(conversation), str(sender device), str(recipient device). */
export function senderKeyInfo(conversationID, senderDeviceID, recipientDeviceID) {
  return concat(bytes('courier-e2e-v1 sender key'), new Uint8Array([0]), str(conversationID),
    str(senderDeviceID), str(recipientDeviceID));
}

/**
 * Seals an 84-byte sender key to a recipient device's prekey ({kem,
 * key_id, public_key}, fetched and verified) and signs it with the
 * sender's identity.
 */
export async function sealSenderKey(identity, conversationID, senderDeviceID, recipientDeviceID, prekey, senderKey) {
  const k = kem(prekey.kem);
  const info = senderKeyInfo(conversationID, senderDeviceID, recipientDeviceID);
  const header = concat(new Uint8Array([VERSION, TYPE_SENDER_KEY]), u16(k.id), u32(prekey.key_id));
  const { enc, context } = setupSender(k.id, prekey.public_key, info);
  const body = concat(header, enc, await context.seal(header, senderKey));
  return concat(body, identity.sign(concat(info, body)));
}

/** The prekey a sealed sender key was sealed to: {kem (name), keyID}. */
export function sealedPrekey(sealed) {
  if (sealed.length < HEADER || sealed[0] !== VERSION || sealed[1] !== TYPE_SENDER_KEY) throw new FormatError('not a sealed sender key');
  let k;
  try {
    k = kem(readU16(sealed, 2));
  } catch {
    throw new FormatError('sealed to an unknown kem');
  }
  return { kem: k.name, keyID: readU32(sealed, 4) };
}

/**
 * Checks a sealed sender key's signature by the sender device's identity
 * key, then opens it with the private half of the prekey it names.
 */
export async function openSenderKey(sealed, conversationID, senderDeviceID, recipientDeviceID, senderIdentityKey, privateKey) {
  const { kem: name } = sealedPrekey(sealed);
  const k = kem(name);
  if (sealed.length !== HEADER + k.encSize + CT + SIG) throw new FormatError('bad sealed sender key size');
  const info = senderKeyInfo(conversationID, senderDeviceID, recipientDeviceID);
  const body = sealed.subarray(0, sealed.length - SIG);
  if (!verify(senderIdentityKey, concat(info, body), sealed.subarray(sealed.length - SIG))) throw new DecryptError();
  try {
    const enc = sealed.subarray(HEADER, HEADER + k.encSize);
    const ctx = setupRecipient(k.id, enc, privateKey, info);
    return unmarshalSenderKey(await ctx.open(sealed.subarray(0, HEADER), body.subarray(HEADER + k.encSize)));
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new DecryptError();
  }
}

/** The mailbox payload carrying a sealed sender key. */
export function distribution(conversationID, sealed) {
  return concat(new Uint8Array([VERSION, TYPE_DISTRIBUTION]), str(conversationID), sealed);
}

/** Splits a mailbox payload into {conversationID, sealed}. */
export function openDistribution(payload) {
  if (payload.length < 2 || payload[0] !== VERSION || payload[1] !== TYPE_DISTRIBUTION) throw new FormatError('not a distribution');
  let r;
  try {
    r = readStr(payload, 2);
  } catch {
    r = null; // not UTF-8
  }
  if (!r || r[0] === '') throw new FormatError('bad distribution');
  return { conversationID: r[0], sealed: payload.slice(r[1]) };
}
