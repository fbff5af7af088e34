// ui.test.mjs — the pages as a visitor meets them: demo document under the CSP, document list, language switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvite, api } from './server.mjs';
import { serverAndBrowser, openEditor, signIn, signInAsAdmin, recordCsp, cspViolations, watchProblems, editorText, waitSynced } from './browser.mjs';

const env = serverAndBrowser();

test('the demo document loads under the strict CSP without console errors or violations', async () => {
  const ctx = await env.browser.newContext();
  await recordCsp(ctx);
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  // A new member of a group link: the page asks for the name before anything else.
  const { link } = await createInvite(env.server.url, 'bildungsleitbild', { kind: 'group', group: 'Volkshochschule' });
  const response = await page.goto(link);
  assert.equal(response.status(), 200);
  assert.equal(new URL(response.url()).search, '', 'the token is gone from the address');
  assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/, 'served with the CSP');

  await page.locator('#name-input').fill('Erika');
  await page.locator('#name-form button[type=submit]').click();
  await waitSynced(page);
  await page.locator('.ProseMirror h1').waitFor();
  assert.equal(await page.locator('.ProseMirror h1').first().textContent(), 'Bildungsleitbild – Entwurf');
  assert.equal(await page.locator('.ProseMirror h2').first().textContent(), 'Präambel');
  assert.ok((await editorText(page)).length > 200, 'the demo has real text');
  assert.equal(await page.locator('#doc-title').textContent(), 'Bildungsleitbild – Entwurf');
  assert.equal(await page.title(), 'Bildungsleitbild – Entwurf – Leitbild');
  assert.match(await page.locator('#counts').textContent(), /^\d[\d.]* Wörter · \d[\d.]* Zeichen$/);

  // Type a little so the caret, presence and toolbar code paths run under the CSP too.
  await page.evaluate(() => window.leitbild.editor.commands.focus('end'));
  await page.keyboard.type(' Ende.');
  await page.getByRole('button', { name: 'Fett (Strg+B)' }).click();
  await page.waitForTimeout(500);

  // The print stylesheet shows only the text.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('#toolbar').isVisible(), false, 'no toolbar in print');
  assert.equal(await page.locator('.presence').isVisible(), false, 'no presence list in print');
  assert.equal(await page.locator('.ProseMirror h1').first().isVisible(), true, 'text is printed');
  await page.emulateMedia({ media: 'screen' });

  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('the start page lists documents, and creating one opens its editor', async () => {
  const ctx = await env.browser.newContext();
  await recordCsp(ctx);
  await signInAsAdmin(ctx, env.server.url);
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  await page.goto(`${env.server.url}/`);
  const demoRow = page.locator('#docs-body tr', { hasText: 'Bildungsleitbild – Entwurf' });
  await demoRow.waitFor();
  assert.equal(await demoRow.locator('a').getAttribute('href'), '/d/bildungsleitbild');
  assert.notEqual((await demoRow.locator('td').nth(1).textContent()).trim(), '', 'last change shown');
  assert.match(await demoRow.locator('td').nth(2).textContent(), /\d/, 'size shown');

  await page.getByLabel('Titel für ein neues Dokument').fill('Leitbild Grundschulen');
  await page.getByRole('button', { name: 'Anlegen' }).click();
  await page.waitForURL(/\/d\/[^/]+$/);
  const id = decodeURIComponent(new URL(page.url()).pathname.slice(3));
  await waitSynced(page);
  assert.equal(await page.locator('#doc-title').textContent(), 'Leitbild Grundschulen');
  assert.equal(await page.locator('#me-name').textContent(), 'Administration');

  const entry = await api(env.server.url, 'GET', `/api/docs/${encodeURIComponent(id)}`);
  assert.equal(entry.body.title, 'Leitbild Grundschulen');
  await page.goto(`${env.server.url}/`);
  await page.locator('#docs-body a', { hasText: 'Leitbild Grundschulen' }).waitFor();

  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);

  // Offline, the start page shows the list as last loaded, and says so.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });
  await ctx.setOffline(true);
  await page.reload();
  await page.locator('#docs-body a', { hasText: 'Leitbild Grundschulen' }).waitFor();
  assert.match(await page.locator('#docs-state').textContent(), /Keine Verbindung/);
  await ctx.close();
});

test('switching to English relabels the UI, sets <html lang> and is remembered', async () => {
  const ctx = await env.browser.newContext();
  await signIn(ctx, (await createInvite(env.server.url, 'bildungsleitbild', { name: 'Grace' })).link);
  const page = await ctx.newPage();
  await page.goto(`${env.server.url}/`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'de');
  assert.equal(await page.locator('h1').textContent(), 'Dokumente');

  await page.getByLabel('Sprache').selectOption('en');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await page.locator('h1').textContent(), 'Documents');
  assert.equal(await page.locator('th').nth(3).textContent(), 'Your role');

  await page.reload();
  await page.locator('#docs-body tr').first().waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'remembered across reload');
  assert.equal(await page.locator('h1').textContent(), 'Documents');
  assert.equal(await page.locator('th').first().textContent(), 'Title');

  // The editor is English too, including the name dialog, the people list and live status.
  const editor = await openEditor(ctx, env.server.url, 'bildungsleitbild');
  assert.equal(await editor.getByRole('button', { name: 'Heading 2' }).count(), 1);
  assert.equal(await editor.getByRole('toolbar', { name: 'Formatting' }).count(), 1);
  assert.equal(await editor.locator('#conn-text').textContent(), 'Connected');
  assert.match(await editor.locator('#counts').textContent(), /words · [\d,]+ characters$/);
  assert.equal(await editor.locator('#people li').first().textContent(), 'Grace (you)');
  await editor.locator('#me-button').click();
  assert.equal(await editor.locator('#name-dialog-title').textContent(), 'What is your name?');
  await editor.getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await editor.locator('#name-dialog').isVisible(), false);

  // And back to German without a reload.
  await editor.getByLabel('Language').selectOption('de');
  assert.equal(await editor.locator('html').getAttribute('lang'), 'de');
  assert.equal(await editor.locator('#conn-text').textContent(), 'Verbunden');
  assert.equal(await editor.getByRole('button', { name: 'Überschrift 2' }).count(), 1);
  await ctx.close();
});

test('a malformed document link shows a not-found message, in the chosen language', async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  await page.goto(`${env.server.url}/d/%E0`);
  await page.locator('.notice').waitFor();
  assert.equal(await page.locator('.notice').textContent(), 'Dieser Link ist ungültig; ein solches Dokument gibt es nicht.');
  assert.equal(await page.getByRole('link', { name: 'Zur Dokumentenliste' }).getAttribute('href'), '/');
  await page.getByLabel('Sprache').selectOption('en');
  assert.equal(await page.locator('.notice').textContent(), 'This link is broken; there is no such document.');
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('without localStorage and IndexedDB the editor still opens, online only, and says so', async () => {
  const ctx = await env.browser.newContext();
  await ctx.addInitScript(() => {
    const refuse = () => {
      throw new DOMException('storage refused', 'SecurityError');
    };
    Object.defineProperty(window, 'localStorage', { get: refuse });
    Object.defineProperty(window, 'indexedDB', { get: refuse });
  });
  const problems = [];
  const page = await openEditor(ctx, env.server.url, 'bildungsleitbild', 'Ida', problems);
  assert.equal(await page.locator('.ProseMirror h2').first().textContent(), 'Präambel');
  assert.equal(await page.locator('#storage-notice').isVisible(), true);
  assert.match(await page.locator('#storage-notice').textContent(), /Änderungen ohne Verbindung gehen beim Neuladen verloren/);
  assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connected');
  assert.deepEqual(problems, []);
  await ctx.close();
});
