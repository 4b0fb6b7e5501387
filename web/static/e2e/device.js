// The protocol around the formats, as the Go client runs it
// (client/e2e_keys.go, e2e_send.go, e2e_receive.go, e2e_contacts.go):
// keys uploaded at first use, bundles claimed and checked, a sender-key
// chain per conversation distributed through the mailbox, the 409 of a
// send whose devices are not the conversation's, distributions opened and
// messages decrypted, identity keys pinned per device.
//
// Nothing here talks to the network or storage directly: the page hands
// in `request(method, path, body)` (its API client; errors carry `status`
// and the server's error object) and a key-value store (keystore.js).
import { fromBase64, fromHex, toBase64, toHex, text, bytes } from './bytes.js';
import { Identity, verifyPrekey } from './identity.js';
import { ReceiverChain, SenderChain, parseEnvelope } from './chain.js';
import { distribution, openDistribution, openSenderKey, sealSenderKey, sealedPrekey } from './senderkey.js';
import { decryptMedia, encryptMedia } from './media.js';
import { keyDigest, safetyNumber, sameKeys } from './safety.js';

const ONE_TIME_BATCH = 40; // one-time X-Wing keys per upload, as the Go client
const MAILBOX_BATCH = 100;
const SEND_TRIES = 4; // a 409 teaches the recipients; more than a few means they keep changing

/** The server's device mismatch in a 409, from an HTTP error body or a send error frame. */
export function deviceMismatch(err) {
  const d = err?.data ?? err?.error ?? err?.body?.error ?? err;
  if (!d || (err?.status !== 409 && err?.code !== 'conflict' && d.code !== 'conflict')) return null;
  if (!d.missing_devices && !d.extra_devices) return null;
  return { missing: d.missing_devices ?? [], extra: d.extra_devices ?? [] };
}

function prekeyFromJSON(p) {
  return p && { ...p, public_key: fromBase64(p.public_key), signature: fromBase64(p.signature) };
}

function prekeyToJSON(p) {
  return { ...p, public_key: toBase64(p.public_key), signature: toBase64(p.signature) };
}

export class E2EDevice {
  /**
   * @param {object} o
   * @param {string} o.userID, o.deviceID  this device
   * @param {Function} o.request  async (method, path, body) => JSON
   * @param {object} o.store  async get(key), put(key, value), delete(key)
   */
  constructor({ userID, deviceID, request, store }) {
    Object.assign(this, { userID, deviceID, request, store });
    this.locks = new Map();
    this.listeners = new Set();
  }

  /** f runs after every other call holding the same name: chains change one message at a time. */
  async serial(name, f) {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(f);
    this.locks.set(name, next);
    return next;
  }

  /** Listeners get {type: 'chain', conversationID, senderDeviceID} and {type: 'identity_changed', userID}. */
  on(f) {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  emit(ev) {
    for (const f of this.listeners) f(ev);
  }

  async identity() {
    if (!this.ident) {
      let seed = await this.store.get('identity');
      if (!seed) {
        seed = Identity.generate().seed;
        await this.store.put('identity', seed);
      }
      this.ident = new Identity(seed);
    }
    return this.ident;
  }

  /** Uploads the first keys once: a signed and a last-resort prekey of each KEM and 40 one-time X-Wing keys. */
  async ensureKeys() {
    return this.serial('keys', async () => {
      if (await this.store.get('uploaded')) return;
      const specs = [];
      for (const kem of ['xwing', 'x25519']) specs.push([kem, 'signed'], [kem, 'last_resort']);
      for (let i = 0; i < ONE_TIME_BATCH; i++) specs.push(['xwing', 'one_time']);
      await this.uploadPrekeys(specs, false);
      await this.store.put('uploaded', true);
    });
  }

  /** Another batch of one-time keys: on keys.low for this device. */
  async replenish() {
    return this.serial('keys', () => this.uploadPrekeys(Array.from({ length: ONE_TIME_BATCH }, () => ['xwing', 'one_time']), false));
  }

  async uploadPrekeys(specs, replace) {
    const id = await this.identity();
    let next = (await this.store.get('nextKeyID')) ?? 1;
    const prekeys = [];
    for (const [kem, kind] of specs) {
      const p = id.newPrekey(kem, kind, next++);
      // The private half is stored before the public one is published: a sealed key can always be opened.
      await this.store.put(`prekey:${kem}:${p.public.key_id}`, { kind, privateKey: p.privateKey, public: p.public });
      if (kind !== 'one_time') await this.store.put(`current:${kem}:${kind}`, p.public);
      prekeys.push(p.public);
    }
    await this.store.put('nextKeyID', next);
    for (let i = 0; i < prekeys.length; i += 100) {
      await this.request('PUT', '/v1/keys', { identity_key: toBase64(id.publicKey),
        prekeys: prekeys.slice(i, i + 100).map(prekeyToJSON), replace: replace && i === 0 });
    }
  }

  /** POST /v1/keys/check: when the directory disagrees (409), upload again with replace. Returns whether it agreed. */
  async checkKeys() {
    const id = await this.identity();
    const current = [];
    for (const kem of ['xwing', 'x25519']) {
      for (const kind of ['signed', 'last_resort']) {
        const p = await this.store.get(`current:${kem}:${kind}`);
        if (p) current.push(p);
      }
    }
    try {
      await this.request('POST', '/v1/keys/check', { digest: toBase64(await keyDigest(id.publicKey, current)) });
      return true;
    } catch (e) {
      if (e?.status !== 409) throw e;
    }
    const specs = [];
    for (const kem of ['xwing', 'x25519']) specs.push([kem, 'signed'], [kem, 'last_resort']);
    for (let i = 0; i < ONE_TIME_BATCH; i++) specs.push(['xwing', 'one_time']);
    await this.serial('keys', () => this.uploadPrekeys(specs, true));
    return false;
  }

  /**
   * Pins a device's identity key at first sight (trust on first use); a
   * device whose key differs from the pinned one is refused: a device's
   * identity never changes.
   */
  async trustIdentity(userID, deviceID, identityKey) {
    const known = await this.store.get(`device:${deviceID}`);
    if (!known) {
      await this.store.put(`device:${deviceID}`, { userID, identityKey });
      return true;
    }
    return known.userID === userID && toHex(known.identityKey) === toHex(identityKey);
  }

  /**
   * The identity keys of a user's devices (GET /v1/users/{id}/identities),
   * each pinned to its device. A device whose key is not the pinned one is
   * left out and marks the contact changed. The first set seen of another
   * user is their contact's keys (trust on first use).
   */
  async identities(userID) {
    let r;
    try {
      r = await this.request('GET', `/v1/users/${encodeURIComponent(userID)}/identities`);
    } catch (e) {
      if (e?.status !== 404) throw e;
      r = { devices: [] }; // no device with keys
    }
    const out = [];
    let refused = false;
    for (const d of r.devices ?? []) {
      const key = fromBase64(d.identity_key);
      if (d.user_id !== userID) continue;
      if (await this.trustIdentity(userID, d.device_id, key)) out.push({ deviceID: d.device_id, identityKey: key });
      else refused = true;
    }
    if (userID !== this.userID) {
      const c = await this.store.get(`contact:${userID}`);
      if (!c) await this.store.put(`contact:${userID}`, { keys: out.map((d) => d.identityKey), verified: false, changed: refused });
      else if ((refused || !sameKeys(c.keys, out.map((d) => d.identityKey))) && !c.changed) {
        await this.store.put(`contact:${userID}`, { ...c, changed: true });
        this.emit({ type: 'identity_changed', userID });
      }
    }
    return out;
  }

  /**
   * What this device knows of a contact's keys: 'unverified' (as first
   * seen), 'verified' (the user compared the safety number) or 'changed'
   * (other keys since: warn until the user verifies again). It asks the
   * directory again, as the Go client does on devices.changed.
   */
  async contactTrust(userID) {
    await this.identities(userID);
    const c = await this.store.get(`contact:${userID}`);
    return c?.changed ? 'changed' : c?.verified ? 'verified' : 'unverified';
  }

  /**
   * Accepts a contact's current keys as verified, once the user compared
   * number with theirs; refused (false) when the keys changed since number
   * was shown, as the Go client's Verify answers conflict.
   */
  async verify(userID, number) {
    const { number: now, theirs } = await this.safety(userID);
    if (now !== number) return false;
    await this.store.put(`contact:${userID}`, { keys: theirs, verified: true, changed: false });
    return true;
  }

  /** The 60-digit safety number with userID, over both users' device identity keys. */
  async safetyNumber(userID) {
    return (await this.safety(userID)).number;
  }

  async safety(userID) {
    const mine = await this.identities(this.userID);
    if (!mine.some((d) => d.deviceID === this.deviceID)) mine.push({ identityKey: (await this.identity()).publicKey });
    const theirs = (await this.identities(userID)).map((d) => d.identityKey);
    return { number: await safetyNumber(this.userID, mine.map((d) => d.identityKey), userID, theirs), theirs };
  }

  /** Claims and checks bundles of a user's devices: signatures by the bundle's (pinned) identity. */
  async bundles(userID) {
    const r = await this.request('GET', `/v1/users/${encodeURIComponent(userID)}/keys`);
    const out = [];
    for (const d of r.devices ?? []) {
      const identityKey = fromBase64(d.identity_key);
      if (d.user_id !== userID || !(await this.trustIdentity(userID, d.device_id, identityKey))) continue;
      let prekey = prekeyFromJSON(d.prekey);
      let signed = prekeyFromJSON(d.signed_prekey);
      if (prekey && !verifyPrekey(identityKey, prekey)) prekey = null;
      if (signed && !verifyPrekey(identityKey, signed)) signed = null;
      out.push({ userID, deviceID: d.device_id, identityKey, prekey, signed });
    }
    return out;
  }

  /**
   * Encrypts a message content ({text, media}) as the conversation's next
   * message: returns {body, devices} for the send. The chain is started (and
   * its key distributed) first when there is none or it is due.
   */
  async encrypt(conversationID, content) {
    return this.serial(`chain:${conversationID}`, async () => {
      const saved = (await this.store.get(`chain:${conversationID}`)) ?? { state: null, recipients: [] };
      let chain = saved.state && new SenderChain(saved.state);
      if (!chain || chain.needsRotation(Date.now(), saved.recipients)) {
        chain = await this.newChain(conversationID, saved.recipients);
      }
      const body = await chain.encrypt(conversationID, this.deviceID, bytes(JSON.stringify(content)));
      await this.store.put(`chain:${conversationID}`, { state: chain.state(), recipients: chain.recipients });
      return { body, devices: chain.recipients };
    });
  }

  /** Starts a chain sealed to each recipient device and posts the distributions before any message on it. */
  async newChain(conversationID, recipients) {
    const id = await this.identity();
    const chain = SenderChain.generate();
    const key = chain.senderKey();
    const items = [];
    for (const d of await this.recipientBundles(conversationID, recipients)) {
      const to = d.prekey ?? d.signed;
      if (!to) continue;
      const sealed = await sealSenderKey(id, conversationID, this.deviceID, d.deviceID, to, key);
      items.push({ device_id: d.deviceID, payload: toBase64(distribution(conversationID, sealed)) });
      chain.recipients.push(d.deviceID);
    }
    for (let i = 0; i < items.length; i += MAILBOX_BATCH) {
      await this.request('POST', '/v1/mailbox', { items: items.slice(i, i + MAILBOX_BATCH) });
    }
    chain.recipients.sort();
    return chain;
  }

  /** Bundles of the recipient devices: of their known users, or of every member when a device is new. */
  async recipientBundles(conversationID, recipients) {
    if (recipients.length === 0) return [];
    const users = new Set();
    for (const d of recipients) {
      const known = await this.store.get(`device:${d}`);
      if (!known) {
        const conv = await this.request('GET', `/v1/conversations/${encodeURIComponent(conversationID)}`);
        for (const m of conv.members ?? []) users.add(m.user_id);
        break;
      }
      users.add(known.userID);
    }
    const out = [];
    for (const u of [...users].sort()) {
      for (const b of await this.bundles(u)) if (recipients.includes(b.deviceID)) out.push(b);
    }
    return out;
  }

  /** After a 409: recipients = (devices ∪ missing) − extra, and the chain dropped so the next send starts one. */
  async recipientsChanged(conversationID, { missing, extra }) {
    return this.serial(`chain:${conversationID}`, async () => {
      const saved = (await this.store.get(`chain:${conversationID}`)) ?? { recipients: [] };
      const r = new Set([...saved.recipients, ...missing]);
      for (const d of extra) r.delete(d);
      await this.store.put(`chain:${conversationID}`, { state: null, recipients: [...r].sort() });
    });
  }

  /**
   * Encrypts content and sends it with send(body, devices), as many times
   * as the server's 409 teaches this device new recipients. The first send
   * of a conversation costs one refused round trip.
   */
  async send(conversationID, content, send) {
    for (let i = 0; ; i++) {
      const { body, devices } = await this.encrypt(conversationID, content);
      try {
        return await send(body, devices);
      } catch (e) {
        const m = deviceMismatch(e);
        if (!m || i + 1 >= SEND_TRIES) throw e;
        await this.recipientsChanged(conversationID, m);
      }
    }
  }

  /**
   * Opens a mailbox item ({sender_id, sender_device_id, payload}): a
   * distribution becomes a receiving chain, the one-time prekey it used
   * is deleted. Returns the chain's {conversationID, senderDeviceID} or
   * throws; either way the caller acknowledges the item.
   */
  async openMailboxItem(item) {
    const payload = typeof item.payload === 'string' ? fromBase64(item.payload) : item.payload;
    const { conversationID, sealed } = openDistribution(payload);
    const { kem, keyID } = sealedPrekey(sealed);
    const pk = await this.store.get(`prekey:${kem}:${keyID}`);
    if (!pk) throw new Error('e2e: sealed to a prekey this device does not hold (used already?)');
    const sender = (await this.identities(item.sender_id)).find((d) => d.deviceID === item.sender_device_id);
    if (!sender) throw new Error(`e2e: no identity key for device ${item.sender_device_id}`);
    const key = await openSenderKey(sealed, conversationID, item.sender_device_id, this.deviceID, sender.identityKey, pk.privateKey);
    const name = `rchain:${conversationID}:${item.sender_device_id}:${toHex(key.chainID)}`;
    await this.serial(name, async () => {
      if (!(await this.store.get(name))) await this.store.put(name, new ReceiverChain(conversationID, item.sender_device_id, key).state());
      if (pk.kind === 'one_time') await this.store.delete(`prekey:${kem}:${keyID}`);
    });
    const ev = { type: 'chain', conversationID, senderDeviceID: item.sender_device_id };
    this.emit(ev);
    return ev;
  }

  /**
   * Decrypts a message ({conversation_id, sender_device_id, body} with
   * body base64 or bytes) to its content {text, media}, text decoded.
   * Returns {locked: true} when the chain is not here (yet: a
   * distribution may still come) and {failed: true} when it never opens.
   */
  async decrypt(m) {
    const body = typeof m.body === 'string' ? fromBase64(m.body) : m.body;
    let env;
    try {
      env = parseEnvelope(body);
    } catch {
      return { failed: true };
    }
    const name = `rchain:${m.conversation_id}:${m.sender_device_id}:${toHex(env.chainID)}`;
    return this.serial(name, async () => {
      const s = await this.store.get(name);
      if (!s) return { locked: true };
      const r = ReceiverChain.fromState(s);
      let pt;
      try {
        pt = await r.decrypt(body);
      } catch {
        return { failed: true }; // a replay, or a message this chain never sent
      }
      await this.store.put(name, r.state());
      try {
        return parseContent(pt);
      } catch {
        return { failed: true }; // from a device that is not a Courier client, or a broken one
      }
    });
  }
}

/** A message content for text and encrypted files (each from encryptFile, uploaded). */
export function content(msg, media = []) {
  return { text: toBase64(bytes(msg)), ...(media.length ? { media: media.map(mediaToJSON) } : {}) };
}

function mediaToJSON(m) {
  const out = { blob_id: m.blob_id, key: toBase64(m.key), chunk_size: m.chunk_size, size: m.size, digest: toBase64(m.digest) };
  if (m.filename) out.filename = m.filename;
  if (m.content_type) out.content_type = m.content_type;
  if (m.thumbnail) out.thumbnail = mediaToJSON(m.thumbnail);
  return out;
}

// parseContent reads a message content (docs/e2e.md, "Message content") as
// Go's encoding/json would: an object, text base64, media a list of
// objects with base64 key and digest; it throws on anything else.
function parseContent(pt) {
  const c = JSON.parse(text(pt));
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new TypeError('content is not an object');
  if (c.text != null && typeof c.text !== 'string') throw new TypeError('text is not base64');
  if (c.media != null && !Array.isArray(c.media)) throw new TypeError('media is not a list');
  const media = (c.media ?? []).map((m) => {
    if (typeof m !== 'object' || m === null || typeof m.key !== 'string' || typeof m.digest !== 'string') throw new TypeError('bad media');
    return mediaFromJSON(m);
  });
  return { text: c.text ? text(fromBase64(c.text)) : '', media };
}

function mediaFromJSON(m) {
  const out = { ...m, key: fromBase64(m.key), digest: fromBase64(m.digest) };
  if (m.thumbnail) out.thumbnail = mediaFromJSON(m.thumbnail);
  return out;
}

/** Encrypts a file: its media reference (blob_id still to set) and the ciphertext to upload as an e2e blob. */
export async function encryptFile(data, { filename = '', contentType = '' } = {}) {
  const { mediaKey, ciphertext } = await encryptMedia(data);
  return { ref: { ...mediaKey, filename, content_type: contentType }, ciphertext };
}

/** Decrypts a downloaded file with the reference its message gave. */
export function decryptFile(ref, ciphertext) {
  return decryptMedia(ref, ciphertext);
}

export { fromHex };
