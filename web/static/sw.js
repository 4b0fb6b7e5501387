// sw.js: the service worker that lets the page open with no network.
// Network first (a new Courier serves its new page at once), the cached
// copy when the network fails. Only the page's own files are cached; /v1
// is never touched: the API and its data live in IndexedDB, not here.
const CACHE = 'courier-web-v1';

// The shell, cached at install: the page that registered the worker
// fetched these before the worker could see them.
const SHELL = ['/', '/app.js', '/api.js', '/client.js', '/socket.js', '/store.js', '/tus.js',
  '/blurhash.js', '/style.css', '/icon.svg', '/icon-attach.svg', '/icon-file.svg'];

// The encryption modules client.js imports, and the vendored libraries
// they import, which vendor/lock.json lists (TestServiceWorkerShell checks
// this list against static/e2e).
const E2E = ['bytes', 'chain', 'device', 'hpke', 'identity', 'keystore', 'media', 'page', 'safety', 'senderkey']
  .map((n) => `/e2e/${n}.js`);

self.addEventListener('install', (e) => {
  self.skipWaiting();
  e.waitUntil(caches.open(CACHE).then(async (c) => {
    await c.add('/vendor/lock.json');
    const lock = await (await c.match('/vendor/lock.json')).json();
    await c.addAll([...SHELL, ...E2E, ...lock.files.map((f) => `/vendor/${f.file}`)]);
  }));
});
self.addEventListener('activate', (e) => { e.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/v1/')) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const resp = await fetch(e.request, { cache: 'no-cache' });
      if (resp.ok) cache.put(e.request, resp.clone());
      return resp;
    } catch (err) {
      const hit = await cache.match(e.request, { ignoreSearch: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
