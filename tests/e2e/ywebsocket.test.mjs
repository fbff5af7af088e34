// ywebsocket.test.mjs — the server speaks the standard Yjs websocket protocol to npm's y-websocket
// client: with a token in `params`, refused without one, and with names that only the server sets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { startServer, createDoc, createInvite, docText, api, ADMIN_TOKEN } from './server.mjs';
import { eventually } from './browser.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/**
 * A provider in this process, signed in with `token` (none when null) as y-websocket does it:
 * `params: { token }` becomes `?token=` on the websocket URL. BroadcastChannel is off so that
 * two clients can only meet through the server.
 */
function connect(docId, token) {
  const doc = new Y.Doc();
  const params = token === null ? {} : { token };
  const provider = new WebsocketProvider(server.wsUrl, docId, doc, { WebSocketPolyfill: WebSocket, disableBc: true, params });
  const synced = new Promise((resolve) => provider.on('sync', (isSynced) => isSynced && resolve()));
  // The provider leaves its Awareness (and that one's timer) alive; close all so the process can exit.
  const close = () => {
    provider.destroy();
    provider.awareness.destroy();
    doc.destroy();
  };
  return { doc, provider, synced, close };
}

/** The token of a new personal editor invite to `docId` for `name`. */
const tokenFor = async (docId, name) => (await createInvite(server.url, docId, { name })).token;

test('two y-websocket clients exchange text, XML and awareness through the server', async () => {
  const { id } = await createDoc(server.url, 'y-websocket');
  const a = connect(id, await tokenFor(id, 'Anna'));
  const b = connect(id, await tokenFor(id, 'Ben'));
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
      const body = await docText(server.url, id);
      return body?.includes('Alle lernen mit.') && body;
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
  const a = connect(id, ADMIN_TOKEN);
  try {
    await a.synced;
    a.doc.getText('notes').insert(0, 'zuerst da');
    await eventually(async () => {
      const { status, body } = await api(server.url, 'GET', `/api/docs/${id}`);
      return status === 200 && body.size > 0;
    }, { message: 'server to store the edit' });
  } finally {
    a.close();
  }
  const b = connect(id, await tokenFor(id, 'Ben'));
  try {
    await b.synced;
    assert.equal(b.doc.getText('notes').toString(), 'zuerst da');
  } finally {
    b.close();
  }
});

test('without a token the websocket upgrade answers 401 and the provider never syncs', async () => {
  const { id } = await createDoc(server.url, 'ohne Token');
  // The upgrade itself, as any websocket client sees it.
  const status = await new Promise((resolve, reject) => {
    const socket = new WebSocket(`${server.wsUrl}/${id}`);
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode);
      socket.terminate();
    });
    socket.on('open', () => reject(new Error('the websocket opened without a token')));
    socket.on('error', () => {});
  });
  assert.equal(status, 401);

  // The provider keeps trying and never gets in; meanwhile a signed-in client writes.
  const anonymous = connect(id, null);
  const writer = connect(id, await tokenFor(id, 'Anna'));
  try {
    let closes = 0;
    anonymous.provider.on('connection-close', () => (closes += 1));
    await writer.synced;
    writer.doc.getText('notes').insert(0, 'nur für Eingeladene');
    await eventually(() => closes >= 2, { message: 'the anonymous provider to be refused twice' });
    assert.equal(anonymous.provider.synced, false);
    assert.equal(anonymous.provider.wsconnected, false);
    assert.equal(anonymous.doc.getText('notes').toString(), '', 'nothing reached the anonymous client');
  } finally {
    anonymous.close();
    writer.close();
  }
});

test('a forged awareness name arrives at other clients as the name the server knows', async () => {
  const { id } = await createDoc(server.url, 'falsche Namen');
  const mallory = connect(id, await tokenFor(id, 'Mallory'));
  const ben = connect(id, await tokenFor(id, 'Ben'));
  try {
    await Promise.all([mallory.synced, ben.synced]);
    mallory.provider.awareness.setLocalStateField('user', { name: 'Landrat', group: 'Kreistag', color: '#1a5fb4' });
    const mId = mallory.doc.clientID;
    const seen = await eventually(() => ben.provider.awareness.getStates().get(mId)?.user, { message: 'Mallory’s state at Ben' });
    assert.deepEqual(seen, { name: 'Mallory', color: '#1a5fb4' }, 'the name is the server’s, the forged group is gone, the colour stays');

    // A later change of the forged name is overwritten just the same.
    mallory.provider.awareness.setLocalStateField('user', { name: 'Ben', color: '#26734d' });
    await eventually(() => ben.provider.awareness.getStates().get(mId)?.user?.color === '#26734d', { message: 'the new state at Ben' });
    assert.equal(ben.provider.awareness.getStates().get(mId).user.name, 'Mallory');
  } finally {
    mallory.close();
    ben.close();
  }
});
