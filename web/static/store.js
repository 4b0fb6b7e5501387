// store.js: the page's local database in IndexedDB, the browser twin of
// the Go SDK's SQLite store (docs/client.md). The UI reads it first, so
// the page opens with what it holds before any network; every network
// event is written here before the UI is told.
//
// Object stores:
//   settings       key → value (the account: server, user, device, token)
//   conversations  id → kind, name, last_seq, cursor (highest seq held with
//                  nothing missing below: what sync sends), read_seq,
//                  read_told, delivered_told, activity, preview, fetched
//   members        [conversation_id, user_id] → delivered_seq, read_seq
//   messages       local_id (auto) → conversation_id, seq (absent while
//                  pending), sender_id, client_id, text, attachments,
//                  uploads, ts, local_ts, state, error; kind and
//                  target_seq for a reaction, edit or delete entry
//                  unique indexes: [conversation_id, seq] (the dedup key of
//                  all the server sends) and [sender_id, client_id] (an own
//                  message matched with its copy from the server)
//   outbox         local_id → conversation_id: own messages not yet
//                  acknowledged, in write order (keys grow)
//   uploads        id → the File itself, name, type, size, tus URL, offset,
//                  blob_id: the files of outbox messages (IndexedDB keeps
//                  File objects, so a reload keeps what is not uploaded yet)
//   blobs          blob_id → what /info or media.ready said

const VERSION = 1;

// Migrations run in order at open, like client/store_migrate.go: a shipped
// one is never edited, the next one is added.
const migrations = [
  (db) => {
    db.createObjectStore('settings');
    db.createObjectStore('conversations', { keyPath: 'id' });
    const members = db.createObjectStore('members', { keyPath: ['conversation_id', 'user_id'] });
    members.createIndex('conversation', 'conversation_id');
    const msgs = db.createObjectStore('messages', { keyPath: 'local_id', autoIncrement: true });
    msgs.createIndex('conv_seq', ['conversation_id', 'seq'], { unique: true });
    msgs.createIndex('sender_client', ['sender_id', 'client_id'], { unique: true });
    msgs.createIndex('conversation', 'conversation_id');
    db.createObjectStore('outbox', { keyPath: 'local_id' });
    db.createObjectStore('uploads', { keyPath: 'id' });
    db.createObjectStore('blobs', { keyPath: 'blob_id' });
  },
];

const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
});

export class Store {
  constructor(db) { this.db = db; }

  static async open(name = 'courier') {
    const open = indexedDB.open(name, VERSION);
    open.onupgradeneeded = (e) => {
      for (let v = e.oldVersion; v < VERSION; v++) migrations[v](open.result);
    };
    return new Store(await req(open));
  }

  // tx runs fn(stores) in one transaction over names and resolves after
  // it committed: a write the caller awaited survives a reload or a crash.
  async tx(names, mode, fn) {
    const t = this.db.transaction(names, mode, { durability: 'strict' });
    const stores = Object.fromEntries(names.map((n) => [n, t.objectStore(n)]));
    let result;
    try {
      result = await fn(stores, t);
    } catch (err) {
      try { t.abort(); } catch { /* already finished */ }
      throw err;
    }
    await done(t);
    return result;
  }

  get(store, key) { return this.tx([store], 'readonly', (s) => req(s[store].get(key))); }
  put(store, value, key) { return this.tx([store], 'readwrite', (s) => req(s[store].put(value, key))); }
  all(store) { return this.tx([store], 'readonly', (s) => req(s[store].getAll())); }

  account() { return this.get('settings', 'account'); }
  saveAccount(a) { return this.put('settings', a, 'account'); }

  async clear() {
    const names = [...this.db.objectStoreNames];
    await this.tx(names, 'readwrite', (s) => Promise.all(names.map((n) => req(s[n].clear()))));
  }

  conversation(id) { return this.get('conversations', id); }

  // conversations returns the list, most recent activity first, each with
  // its unread count (messages of others above read_seq).
  async conversations() {
    const list = await this.all('conversations');
    list.sort((a, b) => (b.activity || '').localeCompare(a.activity || ''));
    return list;
  }

  // upsertConversation merges what the server says of a conversation
  // into the stored row without moving local fields backwards.
  async upsertConversation(c, members) {
    return this.tx(['conversations', 'members'], 'readwrite', async (s) => {
      const old = (await req(s.conversations.get(c.conversation_id))) || {
        id: c.conversation_id, cursor: 0, read_seq: 0, read_told: 0, delivered_told: 0,
        last_seq: 0, activity: c.created_at || new Date().toISOString(),
      };
      const row = {
        ...old,
        kind: c.kind || old.kind,
        name: c.name ?? old.name,
        encrypted: c.encrypted ?? old.encrypted,
        last_seq: Math.max(old.last_seq || 0, c.last_seq || 0),
        fetched: members ? true : old.fetched,
      };
      if (members) {
        row.member_ids = members.map((m) => m.user_id);
        for (const m of members) {
          const key = [row.id, m.user_id];
          const prev = (await req(s.members.get(key))) || { conversation_id: row.id, user_id: m.user_id, delivered_seq: 0, read_seq: 0 };
          prev.delivered_seq = Math.max(prev.delivered_seq, m.delivered_seq || 0);
          prev.read_seq = Math.max(prev.read_seq, m.read_seq || 0);
          prev.role = m.role;
          await req(s.members.put(prev));
        }
      }
      await req(s.conversations.put(row));
      return row;
    });
  }

  members(convID) {
    return this.tx(['members'], 'readonly', (s) => req(s.members.index('conversation').getAll(convID)));
  }

  // applyReceipt moves a member's watermarks forward (never back) and
  // reports whether anything moved.
  applyReceipt(r) {
    return this.tx(['members'], 'readwrite', async (s) => {
      const key = [r.conversation_id, r.user_id];
      const m = (await req(s.members.get(key))) || { conversation_id: r.conversation_id, user_id: r.user_id, delivered_seq: 0, read_seq: 0 };
      const moved = r.delivered_seq > m.delivered_seq || r.read_seq > m.read_seq;
      m.delivered_seq = Math.max(m.delivered_seq, r.delivered_seq || 0);
      m.read_seq = Math.max(m.read_seq, r.read_seq || 0);
      await req(s.members.put(m));
      return moved;
    });
  }

  // messages returns a conversation's messages in seq order, pending ones
  // (no seq yet) after them in the order they were written.
  async messages(convID) {
    const list = await this.tx(['messages'], 'readonly', (s) => req(s.messages.index('conversation').getAll(convID)));
    list.sort((a, b) => {
      if (a.seq != null && b.seq != null) return a.seq - b.seq;
      if (a.seq != null) return -1;
      if (b.seq != null) return 1;
      return a.local_id - b.local_id;
    });
    return list;
  }

  message(localID) { return this.get('messages', localID); }

  // addOutgoing writes an own message, its outbox row and its uploads in
  // one transaction: once it resolves the message is durable and will be
  // sent, whatever happens to the page.
  addOutgoing(me, convID, text, files) {
    return this.tx(['messages', 'outbox', 'uploads', 'conversations'], 'readwrite', async (s) => {
      const uploads = files.map((f) => ({
        id: crypto.randomUUID(), file: f, name: f.name, type: f.type || 'application/octet-stream',
        size: f.size, url: '', offset: 0, blob_id: '',
      }));
      const m = {
        conversation_id: convID, sender_id: me.user_id, sender_device_id: me.device_id,
        client_id: crypto.randomUUID(), text, attachments: [], uploads: uploads.map((u) => u.id),
        local_ts: new Date().toISOString(), state: 'pending', error: null,
      };
      m.local_id = await req(s.messages.add(m));
      for (const u of uploads) { u.local_id = m.local_id; await req(s.uploads.put(u)); }
      await req(s.outbox.put({ local_id: m.local_id, conversation_id: convID }));
      const c = await req(s.conversations.get(convID));
      if (c) {
        c.activity = m.local_ts;
        c.preview = { text: previewText(text, files.length), sender_id: me.user_id };
        await req(s.conversations.put(c));
      }
      return m;
    });
  }

  outbox() { return this.all('outbox'); }
  upload(id) { return this.get('uploads', id); }
  saveUpload(u) { return this.put('uploads', u); }

  // markSent records the server's seq and time for an own message and
  // drops its outbox row. Its uploads' files go too: the blobs are on the
  // server now.
  markSent(localID, seq, ts) {
    return this.tx(['messages', 'outbox', 'uploads', 'conversations'], 'readwrite', async (s) => {
      const m = await req(s.messages.get(localID));
      if (!m) return null;
      const clash = await req(s.messages.index('conv_seq').getKey([m.conversation_id, seq]));
      if (clash != null && clash !== localID) await req(s.messages.delete(clash)); // its copy synced first
      Object.assign(m, { seq, ts, state: 'sent', error: null });
      await req(s.messages.put(m));
      await req(s.outbox.delete(localID));
      for (const id of m.uploads || []) await req(s.uploads.delete(id));
      await this._advance(s, m.conversation_id, m);
      return m;
    });
  }

  markFailed(localID, error) {
    return this.tx(['messages'], 'readwrite', async (s) => {
      const m = await req(s.messages.get(localID));
      if (!m) return null;
      Object.assign(m, { state: 'failed', error });
      await req(s.messages.put(m));
      return m;
    });
  }

  // retry puts a failed message back in the queue with its client ID.
  retry(localID) {
    return this.tx(['messages'], 'readwrite', async (s) => {
      const m = await req(s.messages.get(localID));
      if (m && m.state === 'failed') { m.state = 'pending'; m.error = null; await req(s.messages.put(m)); }
      return m;
    });
  }

  // discard deletes a failed message, so its conversation's queue moves.
  discard(localID) {
    return this.tx(['messages', 'outbox', 'uploads'], 'readwrite', async (s) => {
      const m = await req(s.messages.get(localID));
      if (!m) return;
      for (const id of m.uploads || []) await req(s.uploads.delete(id));
      await req(s.outbox.delete(localID));
      await req(s.messages.delete(localID));
    });
  }

  setAttachments(localID, blobIDs) {
    return this.tx(['messages'], 'readwrite', async (s) => {
      const m = await req(s.messages.get(localID));
      m.attachments = blobIDs;
      await req(s.messages.put(m));
      return m;
    });
  }

  // storeMessage applies a message the server sent (live or in a sync)
  // with its body already opened as text,
  // deduplicated by (conversation, seq). An own message written here is
  // matched with its pending row by (sender, client ID). It answers what
  // happened: 'dup', 'own' (a pending row became sent) or 'new', and
  // whether the cursor now leaves a gap below this seq.
  storeMessage(me, f, text) {
    return this.tx(['messages', 'outbox', 'uploads', 'conversations'], 'readwrite', async (s) => {
      const c = await req(s.conversations.get(f.conversation_id));
      const existing = await req(s.messages.index('conv_seq').getKey([f.conversation_id, f.seq]));
      const result = { kind: 'new', gap: false, known: !!c, message: null };
      if (existing != null) {
        result.kind = 'dup';
      } else {
        const ownKey = await req(s.messages.index('sender_client').getKey([f.sender_id, f.client_id]));
        let m;
        if (ownKey != null) {
          m = await req(s.messages.get(ownKey));
          Object.assign(m, { seq: f.seq, ts: f.ts, state: 'sent', error: null, attachments: f.attachments || [] });
          await req(s.outbox.delete(ownKey));
          for (const id of m.uploads || []) await req(s.uploads.delete(id));
          result.kind = 'own';
        } else {
          m = {
            conversation_id: f.conversation_id, seq: f.seq, sender_id: f.sender_id,
            sender_device_id: f.sender_device_id, client_id: f.client_id, text,
            attachments: f.attachments || [], uploads: [], ts: f.ts, local_ts: f.ts,
            state: f.sender_id === me.user_id ? 'sent' : 'received', error: null,
          };
          // Replies, reactions, edits and deletes (docs/protocol.md) are
          // entries of the log too: kept for dedup and the cursor, shown
          // through the message they change.
          for (const k of ['kind', 'target_seq', 'reply_to', 'edited_seq', 'deleted_seq', 'reactions']) {
            if (f[k]) m[k] = f[k];
          }
          // An encrypted message (e2e/page.js): its files' keys, or locked with its envelope until its key comes.
          if (f.media) m.media = f.media;
          if (f.locked) Object.assign(m, { locked: true, envelope: f.envelope });
        }
        m.local_id = await req(s.messages.put(m));
        result.message = m;
        if (m.kind) await this._applyChange(s, m);
      }
      result.gap = await this._advance(s, f.conversation_id, result.message || { seq: f.seq, ts: f.ts });
      return result;
    });
  }

  // _applyChange applies a reaction, an edit or a delete to its target,
  // in log order, so the target shows what the server's copy does.
  // Reactions are kept per member (`reacted`), replacing the counts a
  // synced target came with once a reaction entry is seen.
  async _applyChange(s, e) {
    const key = await req(s.messages.index('conv_seq').getKey([e.conversation_id, e.target_seq]));
    if (key == null) return;
    const t = await req(s.messages.get(key));
    if (e.kind === 'edit' && !t.deleted_seq) {
      t.text = e.text;
      t.edited_seq = e.seq;
    } else if (e.kind === 'delete') {
      Object.assign(t, { text: '', attachments: [], deleted_seq: e.seq, reacted: {}, reactions: {} });
    } else if (e.kind === 'reaction' && !t.deleted_seq) {
      t.reacted = { ...(t.reacted || {}) };
      if (e.text) t.reacted[e.sender_id] = e.text; else delete t.reacted[e.sender_id];
    }
    await req(s.messages.put(t));
  }

  // _advance moves a conversation's cursor over every seq now held without
  // a hole and its last_seq, activity and preview to a newer message; it
  // answers whether a hole stays below last_seq (a gap to fill by sync).
  async _advance(s, convID, m) {
    const c = (await req(s.conversations.get(convID))) || {
      id: convID, cursor: 0, read_seq: 0, read_told: 0, delivered_told: 0, last_seq: 0, fetched: false,
    };
    let cursor = c.cursor || 0;
    for (;;) {
      const k = await req(s.messages.index('conv_seq').getKey([convID, cursor + 1]));
      if (k == null) break;
      cursor++;
    }
    c.cursor = cursor;
    if (m && m.seq != null && m.seq >= (c.last_seq || 0)) {
      c.last_seq = m.seq;
      if (m.text !== undefined && !m.kind) {
        c.preview = { text: previewText(m.text, (m.attachments || []).length || (m.uploads || []).length), sender_id: m.sender_id, seq: m.seq };
        c.activity = m.ts || c.activity;
      }
    }
    await req(s.conversations.put(c));
    return c.last_seq > c.cursor;
  }

  // setCursor records the cursors a `synced` answered, for conversations
  // whose messages are all held (the server says there is nothing more).
  setCursors(cursors) {
    return this.tx(['conversations'], 'readwrite', async (s) => {
      for (const [id, seq] of Object.entries(cursors)) {
        const c = await req(s.conversations.get(id));
        if (c && seq > c.cursor) { c.cursor = seq; c.last_seq = Math.max(c.last_seq, seq); await req(s.conversations.put(c)); }
      }
    });
  }

  // updateConversation applies fn to a stored conversation row.
  updateConversation(id, fn) {
    return this.tx(['conversations'], 'readwrite', async (s) => {
      const c = await req(s.conversations.get(id));
      if (!c) return null;
      fn(c);
      await req(s.conversations.put(c));
      return c;
    });
  }

  // unread counts others' messages above read_seq.
  async unread(c, me) {
    if (!c.last_seq || c.last_seq <= c.read_seq) return 0;
    const list = await this.tx(['messages'], 'readonly', (s) =>
      req(s.messages.index('conv_seq').getAll(IDBKeyRange.bound([c.id, c.read_seq + 1], [c.id, Infinity]))));
    return list.filter((m) => m.sender_id !== me && !m.kind).length;
  }

  blob(id) { return this.get('blobs', id); }
  saveBlob(b) { return this.put('blobs', b); }
}

// stateFor derives an own message's state from the other members'
// watermarks, as the SDK's stateFor does: delivered when every other
// member's delivered_seq reached its seq, read when every read_seq did.
export function stateFor(m, members, me) {
  if (m.sender_id !== me || m.seq == null || m.state !== 'sent') return m.state;
  const others = members.filter((x) => x.user_id !== me);
  if (others.length === 0) return 'sent';
  if (others.every((x) => x.read_seq >= m.seq)) return 'read';
  if (others.every((x) => x.delivered_seq >= m.seq)) return 'delivered';
  return 'sent';
}

export function decodeBody(b64) {
  if (!b64) return '';
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } catch {
    return '';
  }
}

export function encodeBody(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function previewText(text, files) {
  if (text) return text.slice(0, 80);
  return files ? (files > 1 ? `${files} files` : 'Photo or file') : '';
}
