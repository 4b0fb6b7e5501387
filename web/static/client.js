// client.js: the page's chat engine between the store and the network,
// the browser twin of the Go SDK's client.Client (docs/client.md). It
// applies every network event to the store first and then tells the UI
// through DOM events on itself, so an event is only a hint: a UI that
// missed one reads the store again.
//
// Events (CustomEvent, detail in brackets):
//   change      [{conversation_id?}] the store changed
//   typing      [{conversation_id, user_id, typing}]
//   presence    [{user_id, online, last_seen}]
//   progress    [{upload_id, local_id, sent, size}]  also on window as
//               courier-upload-progress, for tests
//   connection  [{state}] offline → connecting → syncing → online, revoked

import { Api, ApiError } from './api.js';
import { Socket, FrameError } from './socket.js';
import { encodeBody, decodeBody } from './store.js';
import { upload } from './tus.js';
import { PageE2E } from './e2e/page.js';

// Errors a resend would meet again: the message fails and holds its
// conversation's queue until Retry or Discard (docs/client.md).
const PERMANENT = new Set(['invalid', 'too_large', 'not_found', 'forbidden', 'conflict']);
const DELIVERED_DELAY = 100;
const TYPING_START_AFTER = 500;
const TYPING_REFRESH = 4000;
const TYPING_STOP_AFTER = 3000;

export class Client extends EventTarget {
  constructor(store, account) {
    super();
    this.store = store;
    this.me = account;
    this.api = new Api(account.token);
    this.chain = Promise.resolve(); // frames are applied one at a time, in order
    this.sending = new Set(); // conversations with a message in flight
    this.typingOut = new Map(); // conversation → debounce state
    this.typingIn = new Map(); // `${conv}|${user}` → expiry timer
    this.deliveredOwed = new Set();
    this.deliveredTimer = null;
    this.gapTimer = null;
    this.syncing = null;
    // Encrypted conversations need the device's own ID (a pasted token has none).
    this.e2e = account.device_id ? new PageE2E(this) : null;
    this.socket = new Socket(account.token, {
      onFrame: (f) => { this.chain = this.chain.then(() => this.onFrame(f)).catch((e) => console.warn('courier: frame', f.type, e)); },
      onOpen: () => this.afterConnect(),
      onState: (s) => this.emit('connection', { state: s }),
      tokenRefused: async () => {
        try { await this.api.devices(); return false; } catch (e) { return e.status === 401; }
      },
    });
  }

  emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  get state() { return this.socket.state; }

  start() { this.socket.start(); }
  stop() { this.socket.stop(); }

  // afterConnect is the SDK's connect sequence: sync from the stored
  // cursors (again while `more` lists conversations), fetch details of
  // conversations first heard of and every member's watermarks, then go
  // online: the outbox drains, owed receipts go out, presence is watched.
  async afterConnect() {
    this.emit('connection', { state: 'syncing' });
    if (this.e2e) await this.e2e.connected().catch((e) => console.warn('courier: e2e', e));
    await this.sync();
    await this.refreshConversations();
    setTimeout(() => {
      this.drain();
      this.flushReceipts();
      this.watchPresence();
    }, 0);
  }

  async sync() {
    if (this.syncing) return this.syncing;
    this.syncing = (async () => {
      try {
        for (let round = 0; round < 100; round++) {
          const convs = await this.store.conversations();
          const cursors = Object.fromEntries(convs.map((c) => [c.id, c.cursor || 0]));
          let res;
          try {
            res = await this.socket.request('sync', { cursors });
          } catch (e) {
            if (e.code === 'rate_limited') { await sleep(e.retryAfterMs || 1000); continue; }
            throw e;
          }
          await this.chain; // the messages before `synced` are stored
          await this.store.setCursors(res.cursors || {});
          for (const id of Object.keys(res.cursors || {})) {
            if (!convs.some((c) => c.id === id)) await this.fetchConversation(id);
          }
          this.emit('change', {});
          if (!res.more || res.more.length === 0) return;
        }
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  // refreshConversations reads the server's list (unknown conversations,
  // names) and each conversation's members with their watermarks:
  // receipts that moved while offline are not replayed by sync.
  async refreshConversations() {
    let cursor = '';
    do {
      const page = await this.api.conversations(cursor);
      for (const c of page.conversations || []) {
        const full = await this.api.conversation(c.conversation_id);
        await this.store.upsertConversation(full, full.members || []);
      }
      cursor = page.next_cursor;
    } while (cursor);
    this.emit('change', {});
  }

  async fetchConversation(id) {
    try {
      const full = await this.api.conversation(id);
      await this.store.upsertConversation(full, full.members || []);
      this.emit('change', { conversation_id: id });
    } catch (e) {
      console.warn('courier: conversation', id, e);
    }
  }

  async onFrame(f) {
    const d = f.data || {};
    switch (f.type) {
      case 'message': return this.onMessage(d);
      case 'receipt':
        if (await this.store.applyReceipt(d)) this.emit('change', { conversation_id: d.conversation_id });
        return;
      case 'typing': return this.onTyping(d);
      case 'presence': return this.emit('presence', d);
      case 'media.ready': case 'media.failed':
        if (d.blob_id) await this.store.saveBlob(d);
        return this.emit('media', d);
      case 'resync': this.sync().catch(() => {}); return;
      case 'device.revoked': return;
      case 'mailbox': case 'keys.low': case 'devices.changed': return this.e2e?.onFrame(f);
      default: return;
    }
  }

  async onMessage(d) {
    if (this.e2e) d = await this.e2e.incoming(d);
    const r = await this.store.storeMessage(this.me, d, await this.openBody(d));
    if (!r.known) await this.fetchConversation(d.conversation_id);
    if (r.kind === 'own') this.sending.delete(d.conversation_id);
    if (r.kind === 'new' && d.sender_id !== this.me.user_id) {
      this.deliveredOwed.add(d.conversation_id);
      clearTimeout(this.deliveredTimer);
      this.deliveredTimer = setTimeout(() => this.flushReceipts(), DELIVERED_DELAY);
      this.onTyping({ conversation_id: d.conversation_id, user_id: d.sender_id, state: 'stop' });
    }
    if (r.gap && !this.syncing) {
      // A seq past the cursor + 1: sync fills the hole.
      clearTimeout(this.gapTimer);
      this.gapTimer = setTimeout(() => this.sync().catch(() => {}), 200);
    }
    if (r.kind !== 'dup') this.emit('change', { conversation_id: d.conversation_id });
    if (r.kind === 'own') this.drain();
  }

  // --- sending ---

  // send writes the message (and its files) to the store and returns;
  // the outbox sends it when it can, in order per conversation.
  async send(convID, text, files = []) {
    this.stopTyping(convID);
    const m = await this.store.addOutgoing(this.me, convID, text, files);
    this.emit('change', { conversation_id: convID });
    this.drain();
    return m;
  }

  // drain sends the first outbox message of every conversation that has
  // none in flight. A failed message holds its conversation.
  async drain() {
    if (!this.socket.open) return;
    const rows = await this.store.outbox();
    const firsts = new Map();
    for (const r of rows) if (!firsts.has(r.conversation_id)) firsts.set(r.conversation_id, r.local_id);
    for (const [conv, localID] of firsts) {
      if (this.sending.has(conv)) continue;
      this.sending.add(conv);
      this.sendOne(conv, localID).finally(() => {
        this.sending.delete(conv);
      });
    }
  }

  async sendOne(conv, localID) {
    const m = await this.store.message(localID);
    if (!m || m.state === 'failed') return;
    try {
      const encrypted = this.e2e && (await this.e2e.encrypted(conv));
      const rows = encrypted ? await this.e2e.prepareUploads(m) : null;
      const blobIDs = await this.uploadAll(m, rows);
      const frame = await this.sendFrame(m, blobIDs);
      const res = encrypted
        ? await this.e2e.send(conv, m, rows, (body, devices) => this.socket.request('send', { ...frame, body, devices }))
        : await this.socket.request('send', frame);
      await this.store.markSent(localID, res.seq, res.ts);
      this.emit('change', { conversation_id: conv });
      setTimeout(() => this.drain(), 0);
    } catch (e) {
      const code = e.code || 'internal';
      if (PERMANENT.has(code) || e.permanent) {
        await this.store.markFailed(localID, { code, message: e.message });
        this.emit('change', { conversation_id: conv });
        return;
      }
      // Not permanent: the same client ID goes again, after the wait the
      // server asked for, a backoff, or on the next connection.
      const wait = code === 'rate_limited' ? (e.retryAfterMs || 1000) : (code === 'closed' ? 0 : 2000);
      if (code !== 'closed') setTimeout(() => this.drain(), wait);
    }
  }

  // sendFrame builds the data of a `send` frame. It is the seam where an
  // encrypted conversation seals the body (and names its recipient
  // devices); plain conversations carry the UTF-8 text as the body.
  async sendFrame(m, blobIDs) {
    return { conversation_id: m.conversation_id, client_id: m.client_id, body: encodeBody(m.text || ''), attachments: blobIDs };
  }

  // openBody turns a `message` frame's body into the text the store
  // keeps: the seam where an encrypted conversation opens the envelope.
  async openBody(d) {
    return decodeBody(d.body);
  }

  // uploadAll uploads a message's files; rows, for an encrypted
  // conversation, are its encrypted upload rows, each maybe with a
  // thumbnail row (e2e/page.js), whose blobs are attachments too.
  async uploadAll(m, rows = null) {
    if (!rows && m.attachments?.length === (m.uploads || []).length && m.attachments.length) return m.attachments;
    const ids = [];
    const all = rows ? rows.flatMap((u) => (u.thumb ? [u, u.thumb] : [u])) : null;
    for (const id of all ? all.map((u) => u.id) : m.uploads || []) {
      const u = all ? all.find((x) => x.id === id) : await this.store.upload(id);
      if (!u) continue;
      if (u.blob_id) { ids.push(u.blob_id); continue; }
      const blobID = await upload(this.me.token, u, {
        chunk: Number(localStorage.getItem('courier-upload-chunk')) || undefined,
        // A thumbnail's row lives inside its file's row: saving the file's saves both.
        save: (x) => this.store.saveUpload(rows?.find((r) => r.thumb === x) ?? x),
        onProgress: (sent, size) => {
          const detail = { upload_id: u.id, local_id: m.local_id, conversation_id: m.conversation_id, sent, size };
          this.emit('progress', detail);
          dispatchEvent(new CustomEvent('courier-upload-progress', { detail }));
        },
      });
      ids.push(blobID);
    }
    if (ids.length) await this.store.setAttachments(m.local_id, ids);
    return ids;
  }

  async retry(localID) {
    await this.store.retry(localID);
    this.emit('change', {});
    this.drain();
  }

  async discard(localID) {
    await this.store.discard(localID);
    this.emit('change', {});
    this.drain();
  }

  // --- receipts ---

  // markRead stores read_seq at once and tells the server when online.
  async markRead(convID, seq) {
    const c = await this.store.updateConversation(convID, (c) => { c.read_seq = Math.max(c.read_seq || 0, seq); });
    if (c) this.emit('change', { conversation_id: convID });
    this.flushReceipts();
  }

  // flushReceipts sends what the server has not acknowledged: one
  // delivered receipt per conversation up to its cursor, and read_seq.
  async flushReceipts() {
    if (!this.socket.open && this.socket.state !== 'connecting') return;
    // One pass at a time; a call during a pass asks for one more after it.
    if (this.flushing) { this.flushAgain = true; return; }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        await this.flushOnce();
      } while (this.flushAgain);
    } finally {
      this.flushing = false;
    }
  }

  async flushOnce() {
    const convs = await this.store.conversations();
    for (const c of convs) {
      try {
        const readTo = Math.min(c.read_seq || 0, c.last_seq || 0);
        if (readTo > (c.read_told || 0)) {
          const r = await this.socket.request('receipt', { conversation_id: c.id, kind: 'read', seq: readTo });
          await this.store.updateConversation(c.id, (x) => { x.read_told = Math.max(x.read_told || 0, r.read_seq, readTo); x.delivered_told = Math.max(x.delivered_told || 0, r.delivered_seq); });
        }
        const cur = await this.store.conversation(c.id);
        if ((cur.cursor || 0) > (cur.delivered_told || 0)) {
          const r = await this.socket.request('receipt', { conversation_id: c.id, kind: 'delivered', seq: cur.cursor });
          await this.store.updateConversation(c.id, (x) => { x.delivered_told = Math.max(x.delivered_told || 0, r.delivered_seq, cur.cursor); });
        }
      } catch (e) {
        if (e.code === 'not_found') continue;
        return; // offline: owed receipts go at the next connection
      }
    }
    this.deliveredOwed.clear();
  }

  // --- typing ---

  // typing is called on every keystroke. A `start` goes out once the user
  // has typed for 500 ms, is refreshed every 4 s while they go on, and a
  // `stop` follows 3 s after the last keystroke or at once on send.
  typing(convID) {
    const now = Date.now();
    let t = this.typingOut.get(convID);
    if (!t) { t = { since: now, sentAt: 0, stopTimer: null, startTimer: null }; this.typingOut.set(convID, t); }
    clearTimeout(t.stopTimer);
    t.stopTimer = setTimeout(() => this.stopTyping(convID), TYPING_STOP_AFTER);
    const due = t.sentAt ? t.sentAt + TYPING_REFRESH : t.since + TYPING_START_AFTER;
    if (now >= due) {
      t.sentAt = now;
      this.socket.request('typing', { conversation_id: convID, state: 'start' }).catch(() => {});
    } else if (!t.sentAt && !t.startTimer) {
      t.startTimer = setTimeout(() => {
        t.startTimer = null;
        if (this.typingOut.get(convID) === t && !t.sentAt) {
          t.sentAt = Date.now();
          this.socket.request('typing', { conversation_id: convID, state: 'start' }).catch(() => {});
        }
      }, due - now);
    }
  }

  stopTyping(convID) {
    const t = this.typingOut.get(convID);
    if (!t) return;
    clearTimeout(t.stopTimer);
    clearTimeout(t.startTimer);
    this.typingOut.delete(convID);
    if (t.sentAt) this.socket.request('typing', { conversation_id: convID, state: 'stop' }).catch(() => {});
  }

  onTyping(d) {
    const key = `${d.conversation_id}|${d.user_id}`;
    clearTimeout(this.typingIn.get(key));
    this.typingIn.delete(key);
    const on = d.state === 'start';
    if (on) {
      this.typingIn.set(key, setTimeout(() => this.onTyping({ ...d, state: 'stop' }), d.expires_in_ms || 6000));
    }
    this.emit('typing', { conversation_id: d.conversation_id, user_id: d.user_id, typing: on });
  }

  typers(convID) {
    return [...this.typingIn.keys()].filter((k) => k.startsWith(convID + '|')).map((k) => k.split('|')[1]);
  }

  // --- presence ---

  async watchPresence() {
    const direct = (await this.store.conversations()).filter((c) => c.kind === 'direct').map((c) => c.id);
    if (direct.length === 0) return;
    try { await this.socket.request('presence.subscribe', { conversation_ids: direct }); } catch { /* next connection */ }
  }

  // --- conversations ---

  async createDirect(userID, { encrypted = false } = {}) {
    const c = await this.api.createDirect(userID, encrypted);
    await this.store.upsertConversation(c, c.members || []);
    this.emit('change', { conversation_id: c.conversation_id });
    this.watchPresence();
    return c.conversation_id;
  }

  async createGroup(name, members, { encrypted = false } = {}) {
    const c = await this.api.createGroup(name, members, encrypted);
    await this.store.upsertConversation(c, c.members || []);
    this.emit('change', { conversation_id: c.conversation_id });
    return c.conversation_id;
  }

  // --- media ---

  // blobInfo answers the blob as the store holds it, asking the server
  // when it is not ready there yet (a recipient gets no media.ready).
  async blobInfo(id) {
    const b = await this.store.blob(id);
    if (b && (b.state === 'ready' || b.state === 'failed')) return b;
    try {
      const fresh = await this.api.blobInfo(id);
      await this.store.saveBlob(fresh);
      return fresh;
    } catch (e) {
      if (e instanceof ApiError) return b || null;
      throw e;
    }
  }
}

export { FrameError };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
