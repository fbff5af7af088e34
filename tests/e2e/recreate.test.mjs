// recreate.test.mjs — a document created again under an old id must not inherit a browser's local copy of the old one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launch, openEditor, editorText, eventually, watchProblems, waitSynced } from './browser.mjs';

let server;
let browser;
after(async () => {
  await browser?.close();
  await server?.stop();
});

const count = (text, word) => text.split(word).length - 1;

test('the demo re-seeded on a wiped data dir is not merged with the old copy in IndexedDB', async () => {
  server = await startServer();
  browser = await launch();
  const ctx = await browser.newContext();
  const problems = [];
  const page = await openEditor(ctx, server.url, 'bildungsleitbild', 'Anna', problems);
  assert.equal(count(await editorText(page), 'Präambel'), 1);
  // Let y-indexeddb store the document, then leave the page, so no open tab carries the old copy over.
  await page.waitForTimeout(500);
  await page.goto('about:blank');

  // The data dir is lost: a fresh server on the same origin seeds the demo anew (new Yjs items).
  const { port } = server;
  await server.stop();
  server = await startServer({ port });
  assert.equal(server.url, `http://127.0.0.1:${port}`, 'same origin, same browser storage');

  await page.goto(`${server.url}/d/bildungsleitbild`);
  await waitSynced(page);
  await page.waitForTimeout(1000); // room for a stale local copy to be merged and sent
  assert.equal(count(await editorText(page), 'Präambel'), 1, 'editor text not duplicated');
  const txt = await eventually(async () => {
    const res = await fetch(`${server.url}/api/docs/bildungsleitbild/text?format=txt`);
    return res.ok && (await res.text());
  }, { message: 'server text' });
  assert.equal(count(txt, 'Präambel'), 1, 'server text not duplicated');
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('a tab left open while the document is created anew does not push the old copy', async () => {
  await server?.stop();
  server = await startServer();
  browser ??= await launch();
  const ctx = await browser.newContext();
  const page = await openEditor(ctx, server.url, 'bildungsleitbild', 'Ben');
  assert.equal(count(await editorText(page), 'Präambel'), 1);

  // The data dir is lost while the page stays open; y-websocket reconnects by itself.
  const { port } = server;
  await server.stop();
  server = await startServer({ port });
  await eventually(async () => (await page.locator('#conn').getAttribute('data-state')) === 'recreated', {
    timeout: 20_000,
    message: 'the page to learn that its document was created anew',
  });
  await page.waitForTimeout(1000); // room for a stale copy to be sent, if it were
  const txt = await (await fetch(`${server.url}/api/docs/bildungsleitbild/text?format=txt`)).text();
  assert.equal(count(txt, 'Präambel'), 1, 'the old copy must not reach the new document');

  // A reload opens the new document, with a fresh local copy.
  await page.reload();
  await waitSynced(page);
  assert.equal(count(await editorText(page), 'Präambel'), 1);
  assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connected');
  await ctx.close();
});
