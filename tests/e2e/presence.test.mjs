// presence.test.mjs — peers who send malformed awareness states cannot break the "here now" list or the carets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { createDoc } from './server.mjs';
import { serverAndBrowser, openEditor, eventually } from './browser.mjs';

const env = serverAndBrowser();

/** A y-websocket client in this process that publishes `state` (whatever it is) as its awareness. */
async function hostilePeer(docId, makeState) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(env.server.wsUrl, docId, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
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

test('malformed names and colours from peers are shown as "Unbekannt" in a neutral colour, and later joiners still appear', async () => {
  const doc = await createDoc(env.server.url, 'Fremde Zustände');
  const ctxA = await env.browser.newContext();
  const problems = [];
  const a = await openEditor(ctxA, env.server.url, doc.id, 'Anna', problems);
  await a.keyboard.type('Hallo zusammen');
  await eventually(async () => (await (await fetch(`${env.server.url}/api/docs/${doc.id}/text?format=txt`)).text()).includes('Hallo zusammen'), {
    message: 'the text the peers put their carets in',
  });

  const peers = [
    await hostilePeer(doc.id, (d) => ({ user: { name: {}, color: 'red; background: url(//evil)' }, cursor: cursorAt(d) })),
    await hostilePeer(doc.id, () => ({ user: { name: ['x'], color: 7 } })),
    await hostilePeer(doc.id, (d) => ({ user: 'Mallory', cursor: cursorAt(d) })),
    await hostilePeer(doc.id, () => ({ user: { name: `  ${'L'.repeat(60)}  `, color: '#00AA00' }, cursor: { anchor: 1, head: 'x' } })),
  ];
  try {
    const ctxB = await env.browser.newContext();
    await openEditor(ctxB, env.server.url, doc.id, 'Ben', problems);
    const names = await eventually(async () => {
      const list = await a.locator('#people li').allTextContents();
      return list.length === 6 && list;
    }, { message: 'A lists six people' });
    assert.deepEqual(names, ['Anna (du)', 'Ben', 'L'.repeat(40), 'Unbekannt', 'Unbekannt', 'Unbekannt']);

    // The caret of the peer with a valid cursor but no usable name or colour.
    const label = a.locator('.collaboration-carets__label', { hasText: 'Unbekannt' });
    await label.waitFor();
    assert.equal(await label.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(84, 88, 95)');
    await a.keyboard.type('!');
    assert.deepEqual(problems, []);
    await ctxB.close();
  } finally {
    for (const close of peers) close();
  }
  await ctxA.close();
});
