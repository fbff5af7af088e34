// sw.js — the service worker: keeps a copy of the app shell (page, script, styles) so that a
// document can be reloaded while offline; its edits then come from IndexedDB. Network first:
// online, every request goes to the server and refreshes the copy; the API and the websocket
// are never touched.
const CACHE = 'leitbild-shell-v1';
const SHELL = ['/', '/assets/app.js', '/assets/app.css'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  // Every page of the app is the same shell.
  const page = request.mode === 'navigate' && (url.pathname === '/' || url.pathname.startsWith('/d/'));
  if (!page && !url.pathname.startsWith('/assets/')) return;
  const key = page ? '/' : url.pathname;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
        }
        return response;
      })
      .catch(() => caches.match(key).then((cached) => cached || Response.error())),
  );
});
