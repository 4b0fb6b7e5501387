// tus.js: a tus 1.0 client for /v1/uploads/ (docs/uploads.md), the
// browser's version of the SDK's uploader:
//   1. creation-with-upload: POST with the first chunk as the body and the
//      attachment's local ID as idempotency-key, so a creation repeated
//      after a reload answers the first upload's URL and offset;
//   2. PATCH the next chunks, saving URL and offset after each (save);
//   3. after a reload or an error, HEAD for the offset the server holds
//      and send only the rest; an upload the server forgot starts again.
// XMLHttpRequest rather than fetch: fetch reports no upload progress.

export const CHUNK = 4 << 20; // 4 MiB, as the SDK's UploadChunk

const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

export class UploadError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  // permanent: a resend would get the same answer (the SDK fails the
  // message on invalid, too large and forbidden uploads).
  get permanent() { return [400, 403, 413, 460].includes(this.status); }
}

// upload sends u.file. u is the store's uploads row ({id, file, name,
// type, size, url, offset}); save(u) persists progress; onProgress(sent,
// size) fires as bytes go. Resolves with the blob ID.
export async function upload(token, u, { save, onProgress, chunk = CHUNK }) {
  const auth = { Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0' };
  if (u.url) {
    const head = await xhr('HEAD', u.url, auth, null);
    if (head.status === 200 || head.status === 204) {
      u.offset = Number(head.getResponseHeader('Upload-Offset') || 0);
    } else if (head.status === 404 || head.status === 410) {
      u.url = ''; u.offset = 0; // expired or removed: start again
    } else {
      throw errorOf(head);
    }
  }
  if (!u.url) {
    const meta = [
      `filename ${b64(u.name || 'file')}`,
      `filetype ${b64(u.type || 'application/octet-stream')}`,
      `mode ${b64(u.mode || 'plain')}`,
      `idempotency-key ${b64(u.id)}`,
    ].join(',');
    const body = u.file.slice(0, Math.min(chunk, u.size));
    const r = await xhr('POST', '/v1/uploads/', {
      ...auth, 'Upload-Length': String(u.size), 'Upload-Metadata': meta,
      'Content-Type': 'application/offset+octet-stream',
    }, body, (n) => onProgress?.(n, u.size));
    if (r.status !== 201) throw errorOf(r);
    u.url = new URL(r.getResponseHeader('Location'), location.href).pathname;
    u.offset = Number(r.getResponseHeader('Upload-Offset') || 0);
    await save(u);
  }
  onProgress?.(u.offset, u.size);
  while (u.offset < u.size) {
    const start = u.offset;
    const body = u.file.slice(start, Math.min(start + chunk, u.size));
    const r = await xhr('PATCH', u.url, {
      ...auth, 'Upload-Offset': String(start), 'Content-Type': 'application/offset+octet-stream',
    }, body, (n) => onProgress?.(start + n, u.size));
    if (r.status === 409) { // offset mismatch: ask where the server is
      const head = await xhr('HEAD', u.url, auth, null);
      u.offset = Number(head.getResponseHeader('Upload-Offset') || 0);
      continue;
    }
    if (r.status !== 204) throw errorOf(r);
    u.offset = Number(r.getResponseHeader('Upload-Offset'));
    await save(u);
    onProgress?.(u.offset, u.size);
  }
  u.blob_id = u.url.split('/').filter(Boolean).pop();
  await save(u);
  return u.blob_id;
}

function errorOf(r) {
  let code = 'upload', message = `${r.status} ${r.statusText}`;
  try {
    const e = JSON.parse(r.responseText).error;
    if (e) { code = e.code; message = e.message; }
  } catch { /* not JSON */ }
  return new UploadError(r.status, code, message);
}

function xhr(method, url, headers, body, onUpload) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, url);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    if (onUpload) x.upload.onprogress = (e) => onUpload(e.loaded);
    x.onload = () => resolve(x);
    x.onerror = () => reject(new UploadError(0, 'offline', `${method} ${url}: network error`));
    x.ontimeout = x.onerror;
    x.send(body);
  });
}
