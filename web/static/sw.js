// sw.js: the service worker that lets the page open with no network.
// Network first (a new Courier serves its new page at once), the cached
// copy when the network fails. Only the page's own files are cached; /v1
// is never touched: the API and its data live in IndexedDB, not here.
const CACHE = 'courier-web-v1';

self.addEventListener('install', (e) => { self.skipWaiting(); });
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
