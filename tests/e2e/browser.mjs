// browser.mjs — launches the system Chromium, signs browser contexts in (admin token or invite
// link, as a person would open them) and opens the Leitbild editor as a named person.
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer, createInvite, ADMIN_TOKEN } from './server.mjs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.resolve(here, '../artifacts');

const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Launch headless Chromium (`CHROMIUM` overrides the path). */
export async function launch(extraArgs = []) {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...ARGS, ...extraArgs],
  });
}

/**
 * A server and a browser for the tests of one file: started before the first test, stopped
 * after the last. Tests use `env.server` and `env.browser` (and may replace `env.server`).
 */
export function serverAndBrowser(extraArgs = []) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer();
    env.browser = await launch(extraArgs);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/**
 * Record console errors, uncaught page errors and CSP violations of `page` into `problems`.
 * CSP violations are caught twice: the console message and a securitypolicyviolation listener.
 */
export function watchProblems(page, problems = []) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return problems;
}

/** Collect CSP violations inside every page of `context` (read with `cspViolations(page)`). */
export async function recordCsp(context) {
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}
export const cspViolations = (page) => page.evaluate(() => window.__csp ?? []);

/**
 * Sign `context` in by opening `link` (an invite link, or `/?token=…`) the way a browser does:
 * the server answers 303 with the session cookie. Resolves with the address it ended on.
 */
export async function signIn(context, link) {
  const page = await context.newPage();
  await page.goto(link, { waitUntil: 'domcontentloaded' });
  const url = page.url();
  await page.close();
  return url;
}

/** Sign `context` in as admin. */
export const signInAsAdmin = (context, baseUrl) => signIn(context, `${baseUrl}/?token=${ADMIN_TOKEN}`);

/**
 * Open document `docId` in a new page of `context` and wait until the provider has synced with
 * the server. With `name`, the context first gets a personal invite for that name (`role`, editor
 * unless given), opened as its link; without, the context must already be signed in. With
 * `problems`, the page's errors are recorded there from before it loads, so start-up errors count too.
 */
export async function openEditor(context, baseUrl, docId, name, problems, { role = 'editor' } = {}) {
  const page = await context.newPage();
  if (problems) watchProblems(page, problems);
  if (name) {
    const invite = await createInvite(baseUrl, docId, { name, role });
    await page.goto(invite.link);
  } else {
    await page.goto(`${baseUrl}/d/${encodeURIComponent(docId)}`);
  }
  await waitSynced(page);
  return page;
}

/**
 * Join a group link in a new page of `context` as `name`: open the link, answer the name prompt
 * (which a new member must), and wait until synced.
 */
export async function joinGroup(context, link, name, problems) {
  const page = await context.newPage();
  if (problems) watchProblems(page, problems);
  await page.goto(link);
  await page.locator('#name-dialog').waitFor({ state: 'visible' });
  await page.locator('#name-input').fill(name);
  await page.locator('#name-form button[type=submit]').click();
  await waitSynced(page);
  return page;
}

/** Wait until the editor exists and the websocket provider reports it is synced. */
export async function waitSynced(page, timeout = 15_000) {
  await page.waitForFunction(() => window.leitbild?.provider?.synced === true, null, { timeout });
}

/** Put the caret at the end of the document text. */
export async function focusEnd(page) {
  await page.evaluate(() => window.leitbild.editor.commands.focus('end'));
}

/** The editor's plain text (block texts joined by newlines). */
export const editorText = (page) =>
  page.evaluate(() => {
    const { doc } = window.leitbild.editor.state;
    return doc.textBetween(0, doc.content.size, '\n', '\n');
  });

/** Poll `fn` until it returns a truthy value (or throw with the last value after `timeout`). */
export async function eventually(fn, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${message}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
