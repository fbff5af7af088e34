// sw.js — the service worker: keeps a copy of the app shell (page, script, styles) so that a
// document can be reloaded while offline; its edits then come from IndexedDB. Network first, with
// the copy as fallback when the network fails, answers >= 500, or (for pages) is slower than 3 s.
// The API, the websocket and sign-in links (?token=) are never touched.

// build.mjs replaces the placeholder with a hash of the shell, so every release gets its own cache
// and a new worker never serves an old script with a new page.
const CACHE = 'leitbild-shell-507052c2df60b047';
const SHELL = ['/', '/assets/app.js', '/assets/app.css'];
const PAGE_PATIENCE_MS = 3000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // 'reload' bypasses the HTTP cache: the copy must be this release, not a stale response.
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' }))))
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
  // Opening a link with ?token= is for the server alone: it answers 303 with the session cookie
  // and the address without the token. A copy of the shell must never stand in for that.
  if (url.searchParams.has('token')) return;
  // Every page of the app is the same shell.
  const page = request.mode === 'navigate' && (url.pathname === '/' || url.pathname.startsWith('/d/'));
  if (!page && !url.pathname.startsWith('/assets/')) return;
  event.respondWith(respond(event, request, page ? '/' : url.pathname, page ? PAGE_PATIENCE_MS : Infinity));
});

/**
 * The network's answer, refreshing the copy under `key`; the copy instead when the network fails,
 * answers >= 500 or takes longer than `patience` ms. Without a copy, whatever the network gives.
 */
async function respond(event, request, key, patience) {
  let saved = Promise.resolve();
  const network = fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      saved = caches.open(CACHE).then((cache) => cache.put(key, copy));
    }
    return response;
  });
  // Registered now, while the event is live: the refresh may finish after the copy was served.
  event.waitUntil(network.then(() => saved, () => {}));

  let timer;
  const slow = new Promise((resolve) => {
    if (patience !== Infinity) timer = setTimeout(resolve, patience, 'slow');
  });
  const first = await Promise.race([network.catch(() => 'failed'), slow]);
  clearTimeout(timer);
  if (first instanceof Response && first.status < 500) return first;

  const cached = await caches.open(CACHE).then((cache) => cache.match(key));
  if (cached) return cached;
  return first instanceof Response ? first : network.catch(() => Response.error());
}
