// A device of the web client's e2e module (static/e2e) driven by a Go test
// over stdin and stdout, one JSON command and one JSON answer per line,
// against a real Courier server over HTTP (node:http): it proves the
// module interoperates with the Go client outside a browser too.
//
//	node peer.mjs
//
// Commands: {"cmd":"init", url, token, user_id, device_id}, {"cmd":"sync",
// conversation_id}, {"cmd":"send", conversation_id, text, files:[{path,
// filename, content_type, thumbnail}]}, {"cmd":"safety", user_id}.
import http from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { E2EDevice, MemoryStore, content, decryptFile, encryptFile, fromBase64, toBase64 } from '../../static/e2e/index.js';

let base, token, device;
const seen = new Map(); // seq -> what sync returned: a message key opens once

function httpRequest(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// request is what E2EDevice calls: JSON in and out, errors with the status and the server's error object.
async function request(method, path, body) {
  const r = await httpRequest(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  const data = r.body.length ? JSON.parse(r.body) : null;
  if (r.status >= 300) throw Object.assign(new Error(`${method} ${path}: ${r.status} ${r.body}`), { status: r.status, error: data?.error });
  return data;
}

// upload sends an encrypted file with tus in mode e2e; the upload ID is the blob ID.
async function upload(ciphertext) {
  const meta = Object.entries({ filename: 'encrypted', filetype: 'application/octet-stream', mode: 'e2e' })
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');
  const c = await httpRequest('POST', '/v1/uploads/', { headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(ciphertext.length), 'Upload-Metadata': meta } });
  if (c.status !== 201) throw new Error(`tus create: ${c.status} ${c.body}`);
  const loc = new URL(c.headers.location, base);
  const p = await httpRequest('PATCH', loc.pathname, { body: ciphertext,
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' } });
  if (p.status !== 204) throw new Error(`tus patch: ${p.status} ${p.body}`);
  return loc.pathname.split('/').filter(Boolean).pop();
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

async function download(ref) {
  const r = await httpRequest('GET', `/v1/media/${ref.blob_id}`);
  if (r.status !== 200) throw new Error(`download ${ref.blob_id}: ${r.status}`);
  return decryptFile(ref, new Uint8Array(r.body));
}

const commands = {
  async init(c) {
    base = c.url;
    token = c.token;
    device = new E2EDevice({ userID: c.user_id, deviceID: c.device_id, request, store: new MemoryStore() });
    await device.ensureKeys();
    return { checked: await device.checkKeys() };
  },

  // sync opens the mailbox's distributions, then decrypts the conversation's messages and their files.
  async sync(c) {
    const box = await request('GET', '/v1/mailbox');
    const opened = [];
    for (const it of box.items ?? []) {
      try {
        opened.push(await device.openMailboxItem(it));
      } finally {
        await request('POST', '/v1/mailbox/ack', { ids: [it.id] });
      }
    }
    const h = await request('GET', `/v1/conversations/${c.conversation_id}/messages`);
    const messages = [];
    for (const m of h.messages ?? []) {
      if (m.sender_device_id === device.deviceID) continue;
      const before = seen.get(`${m.conversation_id}/${m.seq}`);
      if (before && !before.locked) {
        messages.push(before);
        continue;
      }
      const d = await device.decrypt(m);
      const out = { seq: m.seq, locked: !!d.locked, failed: !!d.failed, text: d.text, files: [] };
      for (const f of d.media ?? []) {
        const data = await download(f);
        out.files.push({ filename: f.filename, content_type: f.content_type, size: data.length, sha256: sha256(data),
          thumbnail_sha256: f.thumbnail ? sha256(await download(f.thumbnail)) : '' });
      }
      seen.set(`${m.conversation_id}/${m.seq}`, out);
      messages.push(out);
    }
    return { opened: opened.length, messages };
  },

  async send(c) {
    const media = [], attachments = [];
    for (const f of c.files ?? []) {
      const file = await encryptFile(new Uint8Array(readFileSync(f.path)), { filename: f.filename, contentType: f.content_type });
      file.ref.blob_id = await upload(file.ciphertext);
      attachments.push(file.ref.blob_id);
      if (f.thumbnail) {
        const t = await encryptFile(new Uint8Array(readFileSync(f.thumbnail)), { contentType: 'image/jpeg' });
        t.ref.blob_id = await upload(t.ciphertext);
        attachments.push(t.ref.blob_id);
        file.ref.thumbnail = t.ref;
      }
      media.push(file.ref);
    }
    let tries = 0;
    const clientID = randomUUID();
    const r = await device.send(c.conversation_id, content(c.text, media), (body, devices) => {
      tries++;
      return request('POST', `/v1/conversations/${c.conversation_id}/messages`, { client_id: clientID, body: toBase64(body), attachments, devices });
    });
    return { seq: r.seq, tries };
  },

  async safety(c) {
    return { number: await device.safetyNumber(c.user_id) };
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  let out;
  try {
    out = { ok: true, ...(await commands[c.cmd](c)) };
  } catch (e) {
    out = { ok: false, error: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
