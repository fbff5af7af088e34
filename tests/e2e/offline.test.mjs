// offline.test.mjs — editing without a connection: kept in IndexedDB across a reload, merged on reconnect.
//
// How "offline" is made faithful here:
// - context.setOffline(true) makes navigator.onLine false, fires 'offline', and fails every new
//   HTTP request and websocket. It does NOT close a websocket that is already open: Chromium keeps it
//   in readyState OPEN and silently drops its traffic (checked by hand, Chromium 156), which is what
//   a real network cut looks like until timeouts fire (even the close frame the app then sends is
//   swallowed, so the server only notices through its own timeouts). The app reacts to 'offline' by
//   closing its socket and not reconnecting until 'online'; the test checks the provider is really
//   disconnected and, from the outside, that none of A's offline edits reach B.
// - Reloading while offline needs the app shell (HTML, JS, CSS): the app's service worker
//   (web/src/sw.js, served at /sw.js) keeps a copy. The test waits until the worker controls the
//   page, and checks that the worker itself cannot reach the server while the context is offline,
//   so the reloaded page really comes from its cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDoc, docText } from './server.mjs';
import { serverAndBrowser, openEditor, focusEnd, editorText, eventually, waitSynced } from './browser.mjs';

const env = serverAndBrowser();

/** The shell cache's name as the served /sw.js declares it (it changes with every release). */
async function shellCacheName() {
  const worker = await (await fetch(`${env.server.url}/sw.js`)).text();
  const name = worker.match(/const CACHE = '(leitbild-shell-[0-9a-f]{16})'/)?.[1];
  assert.ok(name, 'sw.js names its cache after the release');
  return name;
}

/** Wait until the app's service worker controls `page` and has cached the shell, in its release's cache only. */
async function waitForServiceWorker(page) {
  const name = await shellCacheName();
  await page.waitForFunction(async (cacheName) => {
    if (!navigator.serviceWorker.controller) return false;
    const cache = await caches.open(cacheName);
    return (await cache.keys()).length >= 3;
  }, name, { timeout: 15_000, polling: 100 });
  assert.deepEqual(await page.evaluate(() => caches.keys()), [name], 'one cache, the release’s');
}

test('offline edits survive a reload and merge with others’ edits on reconnect', async () => {
  const doc = await createDoc(env.server.url, 'Offline');
  const ctxA = await env.browser.newContext();
  const ctxB = await env.browser.newContext();
  const a = await openEditor(ctxA, env.server.url, doc.id, 'Anna');
  const b = await openEditor(ctxB, env.server.url, doc.id, 'Ben');

  await waitForServiceWorker(a);
  await focusEnd(a);
  await a.keyboard.type('Vor der Funkstille.');
  await eventually(async () => (await editorText(b)).includes('Vor der Funkstille.'), { message: 'B sees A' });
  await eventually(async () => (await b.locator('#people li').count()) === 2, { message: 'B sees A present' });

  // A loses the network: the page and its service worker alike.
  await ctxA.setOffline(true);
  const [worker] = ctxA.serviceWorkers();
  assert.ok(worker, 'A has a service worker');
  assert.equal(
    await worker.evaluate(() => fetch('/healthz', { cache: 'no-store' }).then(() => 'reached', () => 'offline')),
    'offline',
    'the service worker cannot reach the server either',
  );
  await eventually(async () => (await a.locator('#conn').getAttribute('data-state')) === 'offline', { message: 'A shows offline' });
  assert.equal(await a.locator('#conn-text').textContent(), 'Offline');
  assert.deepEqual(await a.evaluate(() => [window.leitbild.provider.wsconnected, window.leitbild.provider.ws]), [false, null]);

  // Both keep writing, in different paragraphs.
  await focusEnd(a);
  await a.keyboard.press('Enter');
  await a.keyboard.type('Offline geschrieben.');
  await focusEnd(b);
  await b.keyboard.press('Enter');
  await b.keyboard.type('Ben war online.');
  await a.waitForTimeout(1000);
  assert.ok(!(await editorText(b)).includes('Offline geschrieben.'), 'A’s offline edit must not reach B while A is offline');

  // A reloads while still offline: the text comes back from IndexedDB.
  await a.waitForTimeout(300); // let y-indexeddb finish its write
  await a.reload();
  await a.waitForFunction(() => window.leitbild?.editor, null, { timeout: 15_000 });
  await eventually(async () => (await editorText(a)).includes('Offline geschrieben.'), { message: 'offline edit restored from IndexedDB' });
  assert.equal(await editorText(a), 'Vor der Funkstille.\nOffline geschrieben.', 'exactly A’s text, nothing from the server');
  assert.equal(await a.locator('#conn').getAttribute('data-state'), 'offline');

  // Back online: both converge and nothing is lost or doubled. The two new paragraphs were
  // inserted at the same place concurrently, so their order depends on the Yjs client ids.
  await ctxA.setOffline(false);
  await waitSynced(a);
  await eventually(async () => (await a.locator('#conn').getAttribute('data-state')) === 'connected', { message: 'A shows connected' });
  const merged = await eventually(async () => {
    const [ta, tb] = [await editorText(a), await editorText(b)];
    return ta === tb && ta.includes('Offline geschrieben.') && ta.includes('Ben war online.') && ta;
  }, { message: 'A and B to converge' });
  const expectMerged = (text, where) => {
    const lines = text.split('\n').filter(Boolean);
    assert.equal(lines[0], 'Vor der Funkstille.', where);
    assert.deepEqual(lines.slice(1).sort(), ['Ben war online.', 'Offline geschrieben.'], where);
  };
  expectMerged(merged, 'editors');

  // And the server has it all, once.
  const txt = await eventually(async () => {
    const body = await docText(env.server.url, doc.id);
    return body !== null && body.includes('Offline geschrieben.') && body.includes('Ben war online.') && body;
  }, { message: 'server text to contain both offline and online edits' });
  expectMerged(txt, 'server');

  await ctxA.close();
  await ctxB.close();
});
