// recreate.test.mjs — a document created again under an old id must not inherit a browser's local copy of the old one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createInvite, docText } from './server.mjs';
import { launch, openEditor, editorText, eventually, signIn, waitSynced } from './browser.mjs';

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

  // The sessions went with the data: the page says a link is needed (the browser logs the 401s,
  // so this is a page of its own), and a new link brings Anna back.
  const signedOut = await ctx.newPage();
  await signedOut.goto(`${server.url}/d/bildungsleitbild`);
  await signedOut.locator('.explain h1').waitFor();
  assert.equal(await signedOut.locator('.explain h1').textContent(), 'Sie benötigen einen Einladungslink');
  await signedOut.close();
  await page.goto((await createInvite(server.url, 'bildungsleitbild', { name: 'Anna' })).link);
  await waitSynced(page);
  await page.waitForTimeout(1000); // room for a stale local copy to be merged and sent
  assert.equal(count(await editorText(page), 'Präambel'), 1, 'editor text not duplicated');
  const txt = await eventually(() => docText(server.url, 'bildungsleitbild'), { message: 'server text' });
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

  // The data dir is lost while the page stays open, and the sessions with it: the page learns
  // that it is signed out (and stops knocking). Ben opens a new link in another tab and lets the
  // open page reconnect: now the server sees the old copy and refuses it.
  const { port } = server;
  await server.stop();
  server = await startServer({ port });
  await eventually(async () => (await page.locator('#conn').getAttribute('data-state')) === 'signedOut', {
    timeout: 20_000,
    message: 'the page to learn that it is signed out',
  });
  assert.match(await page.locator('#conn-notice').textContent(), /nicht mehr angemeldet/);
  await signIn(ctx, (await createInvite(server.url, 'bildungsleitbild', { name: 'Ben' })).link);
  await page.getByRole('button', { name: 'Erneut verbinden' }).click();
  await eventually(async () => (await page.locator('#conn').getAttribute('data-state')) === 'recreated', {
    timeout: 20_000,
    message: 'the page to learn that its document was created anew',
  });
  await page.waitForTimeout(1000); // room for a stale copy to be sent, if it were
  const txt = await docText(server.url, 'bildungsleitbild');
  assert.equal(count(txt, 'Präambel'), 1, 'the old copy must not reach the new document');

  // A reload opens the new document, with a fresh local copy.
  await page.reload();
  await waitSynced(page);
  assert.equal(count(await editorText(page), 'Präambel'), 1);
  assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connected');
  await ctx.close();
});
