// presence.test.mjs — peers who send malformed awareness states cannot break the "here now" list or
// the carets; the names shown are the server's, whatever a peer claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { createDoc, createInvite, docText } from './server.mjs';
import { serverAndBrowser, openEditor, eventually } from './browser.mjs';

const env = serverAndBrowser();

/** A y-websocket client in this process, invited as `name`, that publishes `state` (whatever it is) as its awareness. */
async function hostilePeer(docId, name, makeState) {
  const { token } = await createInvite(env.server.url, docId, { name });
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(env.server.wsUrl, docId, doc, { WebSocketPolyfill: WebSocket, disableBc: true, params: { token } });
  await new Promise((resolve) => provider.on('sync', (synced) => synced && resolve()));
  provider.awareness.setLocalState(makeState(doc));
  return () => {
    provider.destroy();
    provider.awareness.destroy();
    doc.destroy();
  };
}

/** A cursor on the second character of the document's first text, as y-tiptap encodes it. */
function cursorAt(doc) {
  const text = doc.getXmlFragment('default').get(0).get(0);
  const pos = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, 1));
  return { anchor: pos, head: pos };
}

test('malformed user fields and colours from peers show as their server-side names in a neutral colour, and later joiners still appear', async () => {
  const doc = await createDoc(env.server.url, 'Fremde Zustände');
  const ctxA = await env.browser.newContext();
  const problems = [];
  const a = await openEditor(ctxA, env.server.url, doc.id, 'Anna', problems);
  await a.keyboard.type('Hallo zusammen');
  await eventually(async () => (await docText(env.server.url, doc.id))?.includes('Hallo zusammen'), {
    message: 'the text the peers put their carets in',
  });

  const peers = [
    await hostilePeer(doc.id, 'Mallory', (d) => ({ user: { name: {}, color: 'red; background: url(//evil)' }, cursor: cursorAt(d) })),
    await hostilePeer(doc.id, 'Nina', () => ({ user: { name: ['x'], color: 7, group: { evil: true } } })),
    await hostilePeer(doc.id, 'Oskar', (d) => ({ user: 'Landrat', cursor: cursorAt(d) })),
    await hostilePeer(doc.id, 'Paula', () => ({ user: { name: `  ${'L'.repeat(60)}  `, color: '#00AA00' }, cursor: { anchor: 1, head: 'x' } })),
  ];
  try {
    const ctxB = await env.browser.newContext();
    await openEditor(ctxB, env.server.url, doc.id, 'Ben', problems);
    const names = await eventually(async () => {
      const list = await a.locator('#people li').allTextContents();
      return list.length === 6 && list;
    }, { message: 'A lists six people' });
    assert.deepEqual(names, ['Anna (Sie)', 'Ben', 'Mallory', 'Nina', 'Oskar', 'Paula']);

    // Mallory's caret: a valid cursor, but no usable colour.
    const label = a.locator('.collaboration-carets__label', { hasText: 'Mallory' });
    await label.waitFor();
    assert.equal(await label.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(84, 88, 95)');
    await a.locator('.collaboration-carets__label', { hasText: 'Oskar' }).waitFor();
    assert.equal(await a.locator('.collaboration-carets__label', { hasText: 'Landrat' }).count(), 0, 'nobody appears as someone else');
    await a.keyboard.type('!');
    assert.deepEqual(problems, []);
    await ctxB.close();
  } finally {
    for (const close of peers) close();
  }
  await ctxA.close();
});
