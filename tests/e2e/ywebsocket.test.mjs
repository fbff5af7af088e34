// ywebsocket.test.mjs — the server speaks the standard Yjs websocket protocol to npm's y-websocket client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { startServer, createDoc } from './server.mjs';
import { eventually } from './browser.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** A provider in this process; BroadcastChannel is off so the two can only meet through the server. */
function connect(docId) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(server.wsUrl, docId, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
  const synced = new Promise((resolve) => provider.on('sync', (isSynced) => isSynced && resolve()));
  // The provider leaves its Awareness (and that one's timer) alive; close all so the process can exit.
  const close = () => {
    provider.destroy();
    provider.awareness.destroy();
    doc.destroy();
  };
  return { doc, provider, synced, close };
}

test('two y-websocket clients exchange text, XML and awareness through the server', async () => {
  const { id } = await createDoc(server.url, 'y-websocket');
  const a = connect(id);
  const b = connect(id);
  try {
    await Promise.all([a.synced, b.synced]);

    a.doc.getText('notes').insert(0, 'Hallo aus Node');
    const fragment = a.doc.getXmlFragment('default');
    const heading = new Y.XmlElement('heading');
    heading.setAttribute('level', '2');
    heading.insert(0, [new Y.XmlText('Ziele')]);
    const paragraph = new Y.XmlElement('paragraph');
    paragraph.insert(0, [new Y.XmlText('Alle lernen mit.')]);
    fragment.insert(0, [heading, paragraph]);

    await eventually(() => b.doc.getText('notes').toString() === 'Hallo aus Node', { message: 'Y.Text at B' });
    await eventually(() => b.doc.getXmlFragment('default').length === 2, { message: 'Y.XmlFragment at B' });
    const received = b.doc.getXmlFragment('default').toArray();
    assert.equal(received[0].nodeName, 'heading');
    assert.equal(received[0].getAttribute('level'), '2');
    assert.equal(received[0].toArray()[0].toString(), 'Ziele');
    assert.equal(received[1].toArray()[0].toString(), 'Alle lernen mit.');
    assert.equal(b.doc.getXmlFragment('default').toString(), a.doc.getXmlFragment('default').toString());

    // The edit is in the server's own copy, too.
    const text = await eventually(async () => {
      const res = await fetch(`${server.url}/api/docs/${id}/text?format=txt`);
      const body = await res.text();
      return res.ok && body.includes('Alle lernen mit.') && body;
    }, { message: 'server text' });
    assert.ok(text.includes('Ziele'));

    // Awareness: B sees A's user, and loses it when A goes away.
    a.provider.awareness.setLocalStateField('user', { name: 'Anna', color: '#1a5fb4' });
    const aId = a.doc.clientID;
    await eventually(() => b.provider.awareness.getStates().get(aId)?.user?.name === 'Anna', { message: 'A’s awareness at B' });
    a.provider.destroy();
    await eventually(() => !b.provider.awareness.getStates().has(aId), {
      timeout: 5_000, // well under y-protocols' 30 s outdated timeout: the removal must be sent, not timed out
      message: 'A’s awareness removed at B after A disconnected',
    });
  } finally {
    a.close();
    b.close();
  }
});

test('a late joiner receives the whole document', async () => {
  const { id } = await createDoc(server.url, 'late joiner');
  const a = connect(id);
  try {
    await a.synced;
    a.doc.getText('notes').insert(0, 'zuerst da');
    await eventually(async () => {
      const res = await fetch(`${server.url}/api/docs/${id}`);
      return res.ok && (await res.json()).size > 0;
    }, { message: 'server to store the edit' });
  } finally {
    a.close();
  }
  const b = connect(id);
  try {
    await b.synced;
    assert.equal(b.doc.getText('notes').toString(), 'zuerst da');
  } finally {
    b.close();
  }
});
