// socket.js: the one WebSocket to /v1/ws (docs/protocol.md), what the Go
// SDK's client.Conn and its connect loop are:
//   - request(type, data) sends a frame with an ID and resolves with its
//     answer (rejects with its error frame); every other frame goes to
//     onFrame in arrival order;
//   - a ping every 25 s; a socket silent for twice that is dead (a laptop
//     that changed networks notices a half-open socket);
//   - reconnects with "full jitter" backoff (a random wait up to
//     500 ms·2ⁿ, capped at 30 s; a connection that held 10 s starts the
//     count over), and acts on the close code as the SDK does: 1001 and
//     4000 reconnect at once, 4001 (revoked) and 4002 (replaced) stop;
//   - stays down while the browser says it is offline and comes back at
//     its `online` event.
//
// Browsers cannot set Authorization on a WebSocket, so the device token
// goes as ?token=, which the server's AuthenticatedWS accepts for exactly
// this; its access log records the path, not the query.

const PING_EVERY = 25_000;
const MIN_BACKOFF = 500;
const MAX_BACKOFF = 30_000;
const STABLE_AFTER = 10_000;
const REQUEST_TIMEOUT = 30_000;

export class FrameError extends Error {
  constructor(data) {
    super(data?.message || data?.code || 'error');
    this.code = data?.code || 'internal';
    this.retryAfterMs = data?.retry_after_ms || 0;
    this.data = data;
  }
}

export class Socket {
  // handlers: onFrame(frame), onState(state: 'offline'|'connecting'|
  // 'online'|'revoked'|'replaced'), onOpen() (awaited before 'online').
  constructor(token, handlers) {
    this.token = token;
    this.h = handlers;
    this.ws = null;
    this.pending = new Map();
    this.nextID = 1;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    this.state = 'offline';
    addEventListener('online', () => this.connectSoon(0));
    addEventListener('offline', () => this.ws?.close(4999, 'browser offline'));
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.h.onState?.(s);
  }

  start() { this.stopped = false; this.connectSoon(0); }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
  }

  connectSoon(delay) {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  connect() {
    if (this.stopped || this.ws) return;
    if (!navigator.onLine) { this.setState('offline'); return; }
    this.setState('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/v1/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    let opened = 0, lastHeard = Date.now(), ping = null;
    ws.onopen = async () => {
      opened = Date.now();
      ping = setInterval(() => {
        if (Date.now() - lastHeard > 2 * PING_EVERY) { ws.close(4998, 'silent'); return; }
        this.request('ping').catch(() => {});
      }, PING_EVERY);
      try {
        await this.h.onOpen?.();
        if (this.ws === ws) this.setState('online');
      } catch (err) {
        console.warn('courier: after connect:', err);
        if (this.ws === ws) ws.close(4997, 'sync failed');
      }
    };
    ws.onmessage = (e) => {
      lastHeard = Date.now();
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      const p = f.id != null && this.pending.get(f.id);
      if (p && f.type !== 'message') {
        this.pending.delete(f.id);
        clearTimeout(p.timer);
        if (f.type === 'error') p.reject(new FrameError(f.data));
        else p.resolve(f.data || {});
        return;
      }
      this.h.onFrame(f);
    };
    ws.onclose = (e) => {
      clearInterval(ping);
      if (this.ws !== ws) return;
      this.ws = null;
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new FrameError({ code: 'closed' })); }
      this.pending.clear();
      if (opened && Date.now() - opened >= STABLE_AFTER) this.attempt = 0;
      this.afterClose(e.code, opened);
    };
  }

  async afterClose(code, opened) {
    if (this.stopped) { this.setState('offline'); return; }
    if (code === 4001) { this.stopped = true; this.setState('revoked'); return; }
    if (code === 4002) { this.stopped = true; this.setState('replaced'); return; }
    this.setState('offline');
    if (!opened && navigator.onLine && await this.h.tokenRefused?.()) {
      // The upgrade failed and the token no longer works: a 401 the
      // browser does not show a page; stop for good, as the SDK does.
      this.stopped = true;
      this.setState('revoked');
      return;
    }
    if (code === 1001 || code === 4000) { this.connectSoon(0); return; }
    const cap = Math.min(MAX_BACKOFF, MIN_BACKOFF * 2 ** this.attempt);
    this.attempt++;
    this.connectSoon(Math.random() * cap);
  }

  // request sends a frame and resolves with its answer's data. It rejects
  // at once when the socket is not open: callers (the outbox) keep the
  // work and try again on the next connection.
  request(type, data) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new FrameError({ code: 'closed' }));
    const id = `w${this.nextID++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FrameError({ code: 'timeout' }));
      }, REQUEST_TIMEOUT);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ type, id, ...(data !== undefined ? { data } : {}) }));
    });
  }

  get open() { return this.ws?.readyState === WebSocket.OPEN && this.state === 'online'; }
}
