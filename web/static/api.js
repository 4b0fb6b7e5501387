// api.js: the JSON HTTP API under /v1 (docs/protocol-http.md), same
// origin as the page. Errors become ApiError with the server's code, so
// callers decide as the SDK does (permanent, retry, sign in again).

export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs || 0;
  }
}

export class Api {
  constructor(token) { this.token = token; }

  async call(method, path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers: {
          ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'offline', String(err));
    }
    if (resp.status === 204) return null;
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const e = data.error || {};
      throw new ApiError(resp.status, e.code || 'internal', e.message, Number(resp.headers.get('Retry-After') || 0) * 1000);
    }
    return data;
  }

  // register creates an account (open sign-up: `courier dev`).
  register(name, deviceName) { return this.call('POST', '/v1/accounts', { name, device_name: deviceName }); }
  devices() { return this.call('GET', '/v1/devices'); }
  conversations(cursor = '') { return this.call('GET', `/v1/conversations?limit=200&cursor=${encodeURIComponent(cursor)}`); }
  conversation(id) { return this.call('GET', `/v1/conversations/${encodeURIComponent(id)}`); }
  createDirect(userID, encrypted = false) { return this.call('POST', '/v1/conversations', { kind: 'direct', user_id: userID, ...(encrypted ? { encrypted: true } : {}) }); }
  createGroup(name, members, encrypted = false) { return this.call('POST', '/v1/conversations', { kind: 'group', name, members, ...(encrypted ? { encrypted: true } : {}) }); }
  blobInfo(id) { return this.call('GET', `/v1/media/${encodeURIComponent(id)}/info`); }

  // media fetches a blob or one of its variants as a Blob: an <img> cannot
  // send the Authorization header, so the page fetches and shows an
  // object URL.
  async media(id, variant = '') {
    const path = `/v1/media/${encodeURIComponent(id)}${variant ? '/' + encodeURIComponent(variant) : ''}`;
    const resp = await fetch(path, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!resp.ok) throw new ApiError(resp.status, 'media', `GET ${path}: ${resp.status}`);
    return resp.blob();
  }
}
