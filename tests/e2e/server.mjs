// server.mjs — starts the real leitbild binary on a free port with a fresh data dir, and stops it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.LEITBILD_BIN
  ? path.resolve(process.env.LEITBILD_BIN)
  : path.resolve(here, '../../target/debug/leitbild');

/**
 * Start `leitbild serve --addr 127.0.0.1:PORT --data <dir>`. Resolves once the binary prints its
 * `http://127.0.0.1:PORT` line. Pass `dataDir` to restart on existing data, and `port` (e.g. a
 * stopped server's `port`) to come back at the same origin, where browsers keep their storage.
 */
export async function startServer({ dataDir, port = 0 } = {}) {
  const ownsDir = !dataDir;
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'leitbild-e2e-')));
  const child = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--data', dir], {
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

/** Create a document through the HTTP API; returns the server's entry. */
export async function createDoc(url, title) {
  const res = await fetch(`${url}/api/docs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title }),
  });
  if (res.status !== 201) throw new Error(`POST /api/docs answered ${res.status}: ${await res.text()}`);
  return res.json();
}
