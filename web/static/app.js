// app.js: the UI. It renders from the store (store.js) and re-renders when
// the client (client.js) says something changed; it never keeps state the
// store does not have, so a reload shows the same page.

import { Store, stateFor } from './store.js';
import { Client } from './client.js';
import { Api } from './api.js';
import { dataURL } from './blurhash.js';
import { mediaURL } from './e2e/page.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) if (k != null) e.append(k);
  return e;
};

let store, client, account, contacts = {};
let current = null; // open conversation ID
const mediaCache = new Map(); // blob ID → element, kept across renders
const progress = new Map(); // upload ID → {sent, size, name}
const presence = new Map(); // user ID → {online, last_seen}
const trust = new Map(); // contact's user ID → 'unverified' | 'verified' | 'changed' (e2e/device.js)

const MARKS = { pending: '○', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

async function main() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('courier: service worker', e));
  store = await Store.open();
  account = await store.account();
  contacts = (await store.get('settings', 'contacts')) || {};
  bindForms();
  if (account) start(); else showSignin();
}

function showSignin() {
  $('signin').hidden = false;
  $('app').hidden = true;
}

function start() {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = account.name || 'me';
  $('me-id').textContent = account.user_id;
  client = new Client(store, account);
  let queued = false;
  const rerender = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; render(); });
  };
  client.addEventListener('change', rerender);
  client.addEventListener('media', (e) => { mediaCache.delete(e.detail.blob_id); rerender(); });
  client.addEventListener('typing', rerender);
  client.addEventListener('presence', (e) => { presence.set(e.detail.user_id, e.detail); rerender(); });
  client.addEventListener('identity', (e) => { trust.set(e.detail.user_id, e.detail.trust); rerender(); });
  client.addEventListener('progress', (e) => {
    const d = e.detail;
    progress.set(d.upload_id, d);
    renderProgress();
  });
  client.addEventListener('connection', (e) => {
    $('conn').dataset.state = e.detail.state;
    $('conn').textContent = e.detail.state;
    if (e.detail.state === 'revoked') $('conn').textContent = 'signed out: token revoked';
  });
  document.addEventListener('visibilitychange', () => markRead());
  current = location.hash.slice(1) || null;
  addEventListener('hashchange', () => { current = location.hash.slice(1) || null; render(); });
  render(); // from the store, before any network
  client.start();
}

// --- sign in ---

function bindForms() {
  $('signup-form').addEventListener('submit', (e) => signin(e, async () => {
    const name = $('signup-name').value.trim();
    const a = await new Api('').register(name, `web ${navigator.platform || ''}`.trim());
    return { ...a, name };
  }));
  $('token-form').addEventListener('submit', (e) => signin(e, async () => {
    const token = $('token-input').value.trim();
    const { devices } = await new Api(token).devices();
    // The token's own device is not named by the API: own messages are
    // matched by (sender, client ID) instead, which needs only the user.
    return { token, user_id: devices[0]?.user_id, device_id: '', name: $('token-name').value.trim() };
  }));
  $('direct-form').addEventListener('submit', (e) => act(e, async () => {
    const id = $('direct-user').value.trim();
    const name = $('direct-name').value.trim();
    if (name) await saveContact(id, name);
    const conv = await client.createDirect(id, { encrypted: $('direct-encrypted').checked });
    e.target.reset();
    $('new-chat').open = false;
    location.hash = conv;
  }));
  $('group-form').addEventListener('submit', (e) => act(e, async () => {
    const ids = $('group-members').value.split(/[\s,]+/).filter(Boolean);
    const conv = await client.createGroup($('group-name').value.trim(), ids, { encrypted: $('group-encrypted').checked });
    e.target.reset();
    $('new-chat').open = false;
    location.hash = conv;
  }));
  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = $('text').value;
    const files = [...$('files').files];
    if (!current || (!text.trim() && files.length === 0)) return;
    $('text').value = '';
    $('files').value = '';
    await client.send(current, text, files);
  });
  $('files').addEventListener('change', () => { if ($('files').files.length) $('composer').requestSubmit(); });
  $('text').addEventListener('input', () => { if (current && $('text').value) client.typing(current); });
  $('signout').addEventListener('click', async () => {
    if (!confirm('Forget this account and every message kept in this browser?')) return;
    client?.stop();
    await store.clear();
    location.hash = '';
    location.reload();
  });
  $('viewer-close').addEventListener('click', closeViewer);
  // The safety number of an encrypted direct conversation, to compare with
  // the contact's in person (the Go client's SafetyNumber gives the same).
  $('conv-verify').addEventListener('click', async () => {
    const c = await store.conversation(current);
    const other = (c?.member_ids || []).find((id) => id !== account.user_id);
    if (!other) return;
    $('viewer-body').replaceChildren(el('p', { className: 'hint', textContent: 'computing…' }));
    $('viewer').hidden = false;
    const n = await client.e2e.safetyNumber(other);
    const note = el('p', { className: 'hint', textContent: 'The same 60 digits on both devices mean nobody sits between you.' });
    const verify = el('button', { id: 'safety-verify', type: 'button', textContent: 'They match: mark as verified' });
    verify.onclick = async () => {
      if (await client.e2e.verify(other, n)) {
        trust.set(other, 'verified');
        closeViewer();
        render();
      } else {
        note.textContent = 'Their keys changed again since this number was shown: close and compare the new one.';
      }
    };
    $('viewer-body').replaceChildren(el('div', { className: 'safety' },
      el('h3', { textContent: `Safety number with ${who(other)}` }),
      el('code', { id: 'safety-number', textContent: n.match(/.{20}/g).map((l) => l.match(/.{5}/g).join(' ')).join('\n') }),
      note, verify));
  });
  $('viewer').addEventListener('click', (e) => { if (e.target === $('viewer')) closeViewer(); });
}

async function signin(e, get) {
  e.preventDefault();
  $('signin-error').textContent = '';
  try {
    const a = await get();
    if (!a.user_id) throw new Error('the token answered no user');
    account = { user_id: a.user_id, device_id: a.device_id || '', token: a.token, name: a.name || '' };
    await store.saveAccount(account);
    start();
  } catch (err) {
    $('signin-error').textContent = err.message || String(err);
  }
}

async function act(e, fn) {
  e.preventDefault();
  $('new-error').textContent = '';
  try { await fn(); } catch (err) { $('new-error').textContent = err.message || String(err); }
}

async function saveContact(id, name) {
  contacts[id] = name;
  await store.put('settings', contacts, 'contacts');
}

// --- rendering ---

const who = (id) => (id === account.user_id ? 'You' : contacts[id] || `user ${id.slice(0, 6)}`);

function title(c) {
  if (c.kind === 'group') return c.name || 'Group';
  const other = (c.member_ids || []).find((id) => id !== account.user_id);
  return other ? who(other) : 'Direct chat';
}

async function render() {
  await renderList();
  await renderConversation();
}

async function renderList() {
  const list = await store.conversations();
  const ul = $('conversations');
  const items = [];
  for (const c of list) {
    const unread = await store.unread(c, account.user_id);
    const p = c.preview;
    const li = el('li', { className: 'conv' + (c.id === current ? ' active' : '') },
      el('a', { href: '#' + c.id },
        el('span', { className: 'conv-name', textContent: title(c) }),
        unread && c.id !== current ? el('span', { className: 'unread', textContent: String(unread) }) : null,
        el('span', { className: 'conv-preview', textContent: p ? `${p.sender_id === account.user_id ? 'You: ' : ''}${p.text}` : '' })));
    li.dataset.convId = c.id;
    li.dataset.unread = String(unread);
    items.push(li);
  }
  ul.replaceChildren(...items);
}

async function renderConversation() {
  const c = current && (await store.conversation(current));
  $('empty').hidden = !!c;
  $('conv-view').hidden = !c;
  if (!c) return;
  $('conv-title').textContent = title(c);
  $('conv-e2e').hidden = !c.encrypted;
  $('conv-verify').hidden = !(c.encrypted && c.kind === 'direct' && client.e2e);
  renderTrust(c);
  $('conv-view').dataset.convId = c.id;
  const members = await store.members(c.id);
  const other = c.kind === 'direct' ? (c.member_ids || []).find((id) => id !== account.user_id) : null;
  const pr = other && presence.get(other);
  $('conv-presence').textContent = pr ? (pr.online ? 'online' : `last seen ${fmtTime(pr.last_seen)}`) : '';
  $('conv-presence').dataset.online = pr?.online ? 'true' : 'false';

  const msgs = await store.messages(c.id);
  const ol = $('messages');
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
  // Reactions, edits and deletes show through the message they change.
  ol.replaceChildren(...msgs.filter((m) => !m.kind).map((m) => renderMessage(m, members, c)));
  if (atBottom || ol.dataset.conv !== c.id) ol.scrollTop = ol.scrollHeight;
  ol.dataset.conv = c.id;

  const typers = client.typers(c.id).filter((id) => id !== account.user_id);
  $('typing').textContent = typers.length ? `${typers.map(who).join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing…` : '';
  renderProgress();
  markRead(msgs);
}

function renderMessage(m, members, c) {
  const own = m.sender_id === account.user_id;
  const state = own ? stateFor(m, members, account.user_id) : 'received';
  const li = el('li', { className: `msg ${own ? 'own' : 'theirs'}` });
  li.dataset.seq = m.seq ?? '';
  li.dataset.state = state;
  li.dataset.localId = m.local_id;
  if (!own && c.kind === 'group') li.append(el('div', { className: 'sender', textContent: who(m.sender_id) }));
  if (m.media?.length) for (const ref of m.media) li.append(encryptedAttachment(ref));
  else for (const id of m.attachments || []) li.append(attachment(id));
  if (m.locked) li.append(el('div', { className: 'text locked', textContent: 'Encrypted: waiting for this message\'s key' }));
  if (own && (m.attachments || []).length === 0) for (const id of m.uploads || []) li.append(localAttachment(id));
  if (m.deleted_seq) li.append(el('div', { className: 'deleted', textContent: 'This message was deleted' }));
  else if (m.text) li.append(el('div', { className: 'text', textContent: m.text }));
  const meta = el('div', { className: 'meta' }, el('time', { textContent: fmtTime(m.ts || m.local_ts) }));
  if (m.edited_seq && !m.deleted_seq) meta.prepend(el('span', { className: 'edited', textContent: 'edited' }));
  const counts = reactionCounts(m);
  if (counts.length) {
    li.append(el('div', { className: 'reactions' },
      ...counts.map(([emoji, n]) => el('span', { className: 'reaction', textContent: `${emoji} ${n}` }))));
  }
  if (own) meta.append(el('span', { className: `mark ${state}`, textContent: MARKS[state] || '', title: state }));
  li.append(meta);
  if (state === 'failed') {
    li.append(el('div', { className: 'error' }, `Not sent: ${m.error?.message || m.error?.code || 'failed'} `,
      el('button', { type: 'button', textContent: 'Retry', onclick: () => client.retry(m.local_id) }),
      el('button', { type: 'button', textContent: 'Discard', onclick: () => client.discard(m.local_id) })));
  }
  return li;
}

// reactionCounts answers [emoji, count] pairs: from the reactions seen
// as entries when there are any, else the counts the server sent with
// the message.
function reactionCounts(m) {
  if (m.reacted && Object.keys(m.reacted).length) {
    const c = {};
    for (const e of Object.values(m.reacted)) c[e] = (c[e] || 0) + 1;
    return Object.entries(c);
  }
  if (m.reacted) return [];
  return Object.entries(m.reactions || {});
}

// markRead reads the open conversation up to its newest held message
// while the page is visible, as a phone marks what is on screen.
async function markRead(msgs) {
  if (!current || document.visibilityState !== 'visible') return;
  const c = await store.conversation(current);
  if (!c) return;
  const top = msgs ? Math.max(0, ...msgs.filter((m) => m.seq != null).map((m) => m.seq)) : c.cursor;
  if (top > (c.read_seq || 0)) client.markRead(current, top);
}

function renderProgress() {
  const box = $('progress-list');
  const rows = [];
  for (const [id, p] of progress) {
    if (p.conversation_id !== current) continue;
    if (p.sent >= p.size) { setTimeout(() => { progress.delete(id); renderProgress(); }, 1500); }
    rows.push(el('div', { className: 'upload' },
      el('progress', { max: p.size, value: p.sent }),
      el('span', { textContent: `${Math.floor((100 * p.sent) / Math.max(1, p.size))}%` })));
  }
  box.replaceChildren(...rows);
}

// localAttachment shows a file not uploaded yet from the File the store
// keeps, with its progress.
function localAttachment(uploadID) {
  const key = 'local:' + uploadID;
  if (mediaCache.has(key)) return mediaCache.get(key);
  const box = el('div', { className: 'media pending' });
  store.upload(uploadID).then((u) => {
    if (!u) return;
    // An encrypted upload's row keeps the picked file as original (e2e/page.js).
    const file = u.original || u.file, type = u.e2e?.content_type || u.type, name = u.e2e?.filename || u.name;
    if (type.startsWith('image/')) box.append(el('img', { src: URL.createObjectURL(file), alt: name }));
    else box.append(el('div', { className: 'file', textContent: name }));
  });
  mediaCache.set(key, box);
  return box;
}

// attachment shows a blob: the blurhash first, then the thumbnail (or a
// video's poster); a click opens the preview or the MP4; other files are a
// link that downloads with the file's name.
function attachment(id) {
  if (mediaCache.has(id)) return mediaCache.get(id);
  const box = el('div', { className: 'media' });
  box.dataset.blobId = id;
  mediaCache.set(id, box);
  fillAttachment(box, id, 0);
  return box;
}

async function fillAttachment(box, id, tries) {
  let b;
  try { b = await client.blobInfo(id); } catch { b = null; }
  if (!b || b.state === 'processing' || b.state === 'uploading' || !b.state) {
    box.dataset.state = 'processing';
    if (!box.firstChild) box.append(el('div', { className: 'file', textContent: 'processing…' }));
    if (tries < 60) setTimeout(() => fillAttachment(box, id, tries + 1), Math.min(5000, 500 * 2 ** Math.min(tries, 4)));
    return;
  }
  box.dataset.state = b.state;
  box.dataset.kind = b.kind || '';
  const has = (v) => (b.variants || []).some((x) => x.name === v);
  if ((b.kind === 'photo' || b.kind === 'video') && (has('thumb') || has('poster'))) {
    const img = el('img', { alt: b.filename || b.kind, className: 'placeholder' });
    if (b.blurhash) img.src = dataURL(b.blurhash);
    if (b.width && b.height) { img.width = Math.min(240, b.width); img.height = Math.round(img.width * b.height / b.width); }
    box.replaceChildren(img);
    if (b.kind === 'video') box.append(el('span', { className: 'play', textContent: '▶' }));
    const thumb = has('thumb') ? 'thumb' : 'poster';
    client.api.media(id, thumb).then((blob) => {
      img.src = URL.createObjectURL(blob);
      img.className = 'thumb';
      box.dataset.thumb = 'loaded';
    }).catch((e) => console.warn('courier: thumbnail', id, e));
    box.onclick = () => openViewer(b);
    box.tabIndex = 0;
    return;
  }
  const a = el('a', { href: '#', className: 'file', textContent: `${b.filename || 'file'} (${fmtSize(b.size)})` });
  a.onclick = async (e) => {
    e.preventDefault();
    const blob = await client.api.media(id);
    const link = el('a', { href: URL.createObjectURL(blob), download: b.filename || 'file' });
    document.body.append(link);
    link.click();
    link.remove();
  };
  box.replaceChildren(a);
}

// renderTrust says what this device knows of an encrypted direct
// contact's keys: verified, or changed since first seen (a new device, a
// reinstall, or a server lying), until the user verifies the safety number.
function renderTrust(c) {
  const other = c.kind === 'direct' ? (c.member_ids || []).find((id) => id !== account.user_id) : null;
  const box = $('conv-trust');
  box.hidden = true;
  if (!c.encrypted || !other || !client.e2e) return;
  if (!trust.has(other)) {
    trust.set(other, 'unknown');
    client.e2e.contactTrust(other).then((t) => { trust.set(other, t); render(); }).catch((e) => { trust.delete(other); console.warn('courier: contact keys', e); });
  }
  const t = trust.get(other);
  box.dataset.trust = t;
  box.textContent = t === 'verified' ? 'verified' : t === 'changed' ? 'keys changed: compare the safety number' : '';
  box.hidden = !box.textContent;
}

// encryptedAttachment shows a file of an encrypted message: its thumbnail
// (a second encrypted blob) decrypted here, a click for the whole picture;
// other files are a link that decrypts and downloads with the file's name.
function encryptedAttachment(ref) {
  if (mediaCache.has(ref.blob_id)) return mediaCache.get(ref.blob_id);
  const box = el('div', { className: 'media e2e' });
  box.dataset.blobId = ref.blob_id;
  mediaCache.set(ref.blob_id, box);
  if (ref.thumbnail) {
    const img = el('img', { alt: ref.filename || 'photo', className: 'placeholder' });
    box.append(img);
    mediaURL(client.api, ref.thumbnail).then((url) => {
      img.src = url;
      img.className = 'thumb';
      box.dataset.thumb = 'loaded';
    }).catch((e) => console.warn('courier: encrypted thumbnail', ref.blob_id, e));
    box.onclick = async () => {
      $('viewer-body').replaceChildren(el('p', { className: 'hint', textContent: 'loading…' }));
      $('viewer').hidden = false;
      $('viewer-body').replaceChildren(el('img', { src: await mediaURL(client.api, ref), alt: ref.filename || 'photo' }));
    };
    box.tabIndex = 0;
    return box;
  }
  const a = el('a', { href: '#', className: 'file', textContent: `${ref.filename || 'file'} (${fmtSize(ref.size)})` });
  a.onclick = async (e) => {
    e.preventDefault();
    const link = el('a', { href: await mediaURL(client.api, ref), download: ref.filename || 'file' });
    document.body.append(link);
    link.click();
    link.remove();
  };
  box.append(a);
  return box;
}

async function openViewer(b) {
  const body = $('viewer-body');
  body.replaceChildren(el('p', { className: 'hint', textContent: 'loading…' }));
  $('viewer').hidden = false;
  const has = (v) => (b.variants || []).some((x) => x.name === v);
  if (b.kind === 'video') {
    const src = has('mp4') ? 'mp4' : '';
    const blob = await client.api.media(b.blob_id, src);
    body.replaceChildren(el('video', { src: URL.createObjectURL(blob), controls: true, autoplay: true }));
  } else {
    const blob = await client.api.media(b.blob_id, has('preview') ? 'preview' : '');
    body.replaceChildren(el('img', { src: URL.createObjectURL(blob), alt: b.filename || 'photo' }));
  }
}

function closeViewer() {
  $('viewer').hidden = true;
  $('viewer-body').replaceChildren();
}

function fmtTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function fmtSize(n) {
  if (!n) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB'];
  const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
}

main().catch((e) => {
  console.error('courier:', e);
  document.body.prepend(el('p', { className: 'error', textContent: `Courier could not start: ${e.message || e}` }));
});
