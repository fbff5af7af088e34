// server.mjs — starts the real leitbild binary on a free port with a fresh data dir and a known
// admin token, stops it, and talks to its API as admin (documents, invites, text).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.LEITBILD_BIN
  ? path.resolve(process.env.LEITBILD_BIN)
  : path.resolve(here, '../../target/debug/leitbild');

/** The admin token every test server is started with (16+ characters of [A-Za-z0-9-_.~]). */
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

/**
 * Start `leitbild serve --addr 127.0.0.1:PORT --data <dir> --admin-token ADMIN_TOKEN`. Resolves once the binary prints its
 * `http://127.0.0.1:PORT` line. Pass `dataDir` to restart on existing data, and `port` (e.g. a
 * stopped server's `port`) to come back at the same origin, where browsers keep their storage.
 */
export async function startServer({ dataDir, port = 0 } = {}) {
  const ownsDir = !dataDir;
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'leitbild-e2e-')));
  const child = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--data', dir, '--admin-token', ADMIN_TOKEN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));

  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not report its address in 20 s\n${out}${log}`)), 20_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/http:\/\/127\.0\.0\.1:(\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${match[1]}`);
      }
    });
    child.once('error', (err) => reject(new Error(`cannot start ${BIN}: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening\n${out}${log}`)));
  });
  child.stdout.resume();

  return {
    url,
    port: Number(new URL(url).port),
    wsUrl: url.replace(/^http/, 'ws') + '/ws',
    dataDir: dir,
    log: () => log,
    /** Stop the server (SIGTERM, then SIGKILL after 5 s); `keepData` leaves the data dir for a restart. */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownsDir && !keepData) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `method path` on the server at `url` with a Bearer token (the admin's unless `token` says
 * otherwise); resolves with `{ status, body }`, the body parsed when it is JSON.
 */
export async function api(url, method, path, body, { token = ADMIN_TOKEN } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Create a document as admin; returns the server's entry. */
export async function createDoc(url, title) {
  const { status, body } = await api(url, 'POST', '/api/docs', { title });
  if (status !== 201) throw new Error(`POST /api/docs answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Create an invite to `docId` as admin: `{ role, kind, name?, group?, expires_at?, max_people? }`
 * (role editor and kind personal unless given). Returns the invite with its `link` and `token`.
 */
export async function createInvite(url, docId, invite) {
  const request = { role: 'editor', kind: 'personal', ...invite };
  const { status, body } = await api(url, 'POST', `/api/docs/${encodeURIComponent(docId)}/invites`, request);
  if (status !== 201) throw new Error(`POST invites answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/** The document's text as the server renders it (`txt`, `md` or `html`), read as admin; null unless 200. */
export async function docText(url, docId, format = 'txt') {
  const res = await fetch(`${url}/api/docs/${encodeURIComponent(docId)}/text?format=${format}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const text = await res.text();
  return res.status === 200 ? text : null;
}
