// The page's encrypted conversations: what client.js (the page's chat
// engine) calls at its few seams, so the engine itself stays the plain
// chat it is. The Go client does the same steps (client/e2e_*.go):
//
//   connected()    keys uploaded once (sign-up) and checked, then the
//                  mailbox drained before the message sync, so sender keys
//                  are in place before the messages they open;
//   onFrame(f)     mailbox (a sender key arrives: locked messages of its
//                  chain open), keys.low, devices.changed;
//   incoming(d)    a message frame decrypted before it is stored, or kept
//                  locked with its envelope until its sender key comes;
//   prepareUploads encrypts a message's files (and a photo's thumbnail,
//                  made here with a canvas) before tus uploads them in
//                  mode e2e;
//   send()         the envelope and its devices, again after a 409.
//
// Keys and chains live in their own IndexedDB database per device
// (keystore.js), never in the page's store of messages.
import { E2EDevice, content, decryptFile, encryptFile } from './device.js';
import { IndexedDBStore } from './keystore.js';
import { fromBase64, toBase64, bytes } from './bytes.js';

const THUMB_SIZE = 320; // a thumbnail fits in 320 × 320, as the Go client's

export class PageE2E {
  constructor(client) {
    this.client = client;
    this.ready = this.open();
  }

  async open() {
    const me = this.client.me;
    const store = await IndexedDBStore.open(`courier-e2e-${me.device_id}`);
    const request = (method, path, body) => this.client.api.call(method, path, body);
    this.device = new E2EDevice({ userID: me.user_id, deviceID: me.device_id, request, store });
    return this.device;
  }

  // connected runs before the message sync of every connection.
  async connected() {
    const d = await this.ready;
    await d.ensureKeys();
    await d.checkKeys();
    for (let after = 0, round = 0; round < 100; round++) {
      const r = await this.client.socket.request('mailbox.sync', { after });
      await this.client.chain; // the mailbox frames before the answer are applied
      if (!r?.more) break;
      after = this.mailboxSeen || after;
    }
  }

  async onFrame(f) {
    const d = await this.ready;
    const data = f.data || {};
    if (f.type === 'mailbox') return this.onMailbox(data);
    if (f.type === 'keys.low' && data.device_id === d.deviceID) return d.replenish();
    if (f.type === 'devices.changed' && data.user_id !== d.userID) {
      const trust = await d.contactTrust(data.user_id);
      this.client.emit('identity', { user_id: data.user_id, trust });
    }
  }

  // onMailbox opens a distribution, acknowledges it either way (one that
  // cannot be opened never will be), and opens what waited for it.
  async onMailbox(item) {
    if (item.device_id !== this.device.deviceID) return;
    this.mailboxSeen = Math.max(this.mailboxSeen || 0, item.id);
    let chain = null;
    try {
      chain = await this.device.openMailboxItem(item);
    } catch (e) {
      console.warn('courier: mailbox payload refused', item.sender_device_id, e);
    }
    await this.client.api.call('POST', '/v1/mailbox/ack', { ids: [item.id] }).catch((e) => console.warn('courier: mailbox ack', e));
    if (chain) await this.unlock(chain.conversationID, chain.senderDeviceID);
  }

  async encrypted(convID) {
    let c = await this.client.store.conversation(convID);
    if (!c || !c.fetched) { // a conversation first heard of: its details say whether it is encrypted
      await this.client.fetchConversation(convID);
      c = await this.client.store.conversation(convID);
    }
    return !!c?.encrypted;
  }

  // incoming turns a message frame of an encrypted conversation into its
  // plaintext: body the text (base64, as frames carry it), media the
  // files' keys. A message whose sender key has not come yet is locked and
  // keeps its envelope; one from this very device is left to its outbox row.
  async incoming(f) {
    if (!(await this.encrypted(f.conversation_id))) return f;
    const d = await this.ready;
    if (f.sender_device_id === d.deviceID) return { ...f, body: '' };
    const r = await d.decrypt(f);
    if (r.locked) return { ...f, body: '', locked: true, envelope: f.body };
    if (r.failed) return { ...f, body: '', locked: true };
    return { ...f, body: toBase64(bytes(r.text)), media: r.media, locked: false };
  }

  // unlock opens the stored messages that waited for a chain of senderDeviceID.
  async unlock(convID, senderDeviceID) {
    const s = this.client.store;
    let opened = 0;
    for (const m of await s.messages(convID)) {
      if (!m.locked || !m.envelope || m.sender_device_id !== senderDeviceID) continue;
      const r = await this.device.decrypt({ ...m, body: m.envelope });
      if (r.locked) continue;
      Object.assign(m, { locked: false, envelope: undefined, text: r.text ?? '', media: r.media ?? [] });
      if (r.failed) m.locked = true;
      await s.put('messages', m);
      opened++;
    }
    if (opened) this.client.emit('change', { conversation_id: convID });
  }

  // prepareUploads encrypts each file of an outgoing message (once: the
  // upload rows keep the ciphertext and the key across a reload) and adds
  // a JPEG thumbnail for pictures, as a second encrypted upload.
  async prepareUploads(m) {
    const s = this.client.store;
    const rows = [];
    for (const id of m.uploads || []) {
      const u = await s.upload(id);
      if (!u) continue;
      if (!u.e2e) {
        const plain = new Uint8Array(await u.file.arrayBuffer());
        const { ref, ciphertext } = await encryptFile(plain, { filename: u.name, contentType: u.type });
        Object.assign(u, { e2e: ref, original: u.file, file: new Blob([ciphertext]), size: ciphertext.length, name: 'encrypted',
          type: 'application/octet-stream', mode: 'e2e' });
        const thumb = u.e2e.content_type.startsWith('image/') ? await thumbnail(plain, u.e2e.content_type) : null;
        if (thumb) {
          const t = await encryptFile(thumb, { contentType: 'image/jpeg' });
          u.thumb = { id: crypto.randomUUID(), local_id: m.local_id, e2e: t.ref, file: new Blob([t.ciphertext]),
            size: t.ciphertext.length, name: 'encrypted', type: 'application/octet-stream', mode: 'e2e', url: '', offset: 0, blob_id: '' };
        }
        await s.saveUpload(u);
      }
      rows.push(u);
    }
    return rows;
  }

  // send encrypts the message's content (text and the uploaded files'
  // keys) and hands the envelope and devices to sendFrame, again after a
  // 409 taught this device the recipients.
  async send(convID, m, rows, sendFrame) {
    const d = await this.ready;
    const media = rows.filter((u) => u.e2e && u.blob_id).map((u) => ({ ...u.e2e, blob_id: u.blob_id,
      ...(u.thumb?.blob_id ? { thumbnail: { ...u.thumb.e2e, blob_id: u.thumb.blob_id } } : {}) }));
    if (media.length) {
      // Shown from the message row once its uploads are gone.
      const row = await this.client.store.message(m.local_id);
      if (row) await this.client.store.put('messages', { ...row, media });
    }
    return d.send(convID, content(m.text || '', media), (body, devices) => sendFrame(toBase64(body), devices));
  }

  async safetyNumber(userID) {
    return (await this.ready).safetyNumber(userID);
  }

  async contactTrust(userID) {
    return (await this.ready).contactTrust(userID);
  }

  async verify(userID, number) {
    return (await this.ready).verify(userID, number);
  }
}

/** A decrypted file as an object URL, from its reference in a message's content. */
export async function mediaURL(api, ref) {
  const blob = await api.media(ref.blob_id);
  const plain = await decryptFile(ref, new Uint8Array(await blob.arrayBuffer()));
  return URL.createObjectURL(new Blob([plain], { type: ref.content_type || 'application/octet-stream' }));
}

// thumbnail fits a picture in 320 × 320 and encodes it as JPEG with the
// browser's own decoder (orientation applied, as ImageIO would); null for
// what the browser cannot decode.
async function thumbnail(data, type) {
  try {
    const bmp = await createImageBitmap(new Blob([data], { type }));
    const scale = Math.min(1, THUMB_SIZE / Math.max(bmp.width, bmp.height));
    const w = Math.max(1, Math.round(bmp.width * scale)), h = Math.max(1, Math.round(bmp.height * scale));
    const canvas = new OffscreenCanvas(w, h);
    canvas.getContext('2d').drawImage(bmp, 0, 0, w, h);
    const jpeg = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
    return new Uint8Array(await jpeg.arrayBuffer());
  } catch (e) {
    console.warn('courier: no thumbnail', e);
    return null;
  }
}

export { fromBase64 };
