// archive.test.mjs — adopting a text as people meet it: a moderator adopts a named version from
// the history panel (the dialog checks its fields in German), follows the confirmation to the
// archived text; anyone, without signing in, finds it in the public archive and prints it without
// the editor's chrome; and the adopted edition can be compared with the draft as it goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createDoc, docText, api } from './server.mjs';
import {
  serverAndBrowser, openEditor, focusEnd, eventually, recordCsp, cspViolations, ARTIFACTS,
} from './browser.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const env = serverAndBrowser();

const WIDE = { viewport: { width: 1400, height: 900 } };

/** Wait until the server's plain text of `docId` includes `text`. */
const serverHas = (docId, text) =>
  eventually(async () => (await docText(env.server.url, docId))?.includes(text), { message: `the server to have “${text}”` });

/** Open the history panel of `page` and wait for its version list to have loaded. */
async function openHistory(page) {
  await page.getByRole('button', { name: 'Verlauf' }).click();
  const panel = page.locator('#history-panel');
  await panel.waitFor({ state: 'visible' });
  await eventually(async () => (await panel.locator('#versions-state').textContent()) !== 'Wird geladen …', { message: 'the versions to load' });
  return panel;
}

/** Record the errors of `page` while it shows the archive's pages into `problems`. */
function watchArchive(page, problems) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
}

/** Today in this machine's time zone as `YYYY-MM-DD` (the browser runs here, too). */
const today = () => {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
};

test('a moderator adopts a version; anyone reads and prints it in the public archive; it is compared with the draft as it goes on', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Bildungsregion');
  const problems = [];
  const modProblems = [];
  const ctxM = await env.browser.newContext(WIDE);
  await recordCsp(ctxM);
  const mod = await openEditor(ctxM, env.server.url, doc.id, 'Mona Moderatorin', modProblems, { role: 'moderator' });

  await focusEnd(mod);
  await mod.keyboard.type('Bildung gelingt gemeinsam.');
  await serverHas(doc.id, 'Bildung gelingt gemeinsam.');

  const panel = await openHistory(mod);
  // The way to the archive is in the panel.
  assert.equal(await panel.getByRole('link', { name: 'Archiv', exact: true }).getAttribute('href'), '/archive');

  await panel.getByRole('button', { name: 'Version benennen' }).click();
  await mod.getByLabel('Name der Version').fill('Entwurf für den Ausschuss');
  await mod.getByRole('button', { name: 'Version speichern' }).click();
  const named = panel.locator('#versions li.version', { hasText: 'Entwurf für den Ausschuss' });
  await named.waitFor();

  // "Beschließen…" opens the dialog: the document's title, today's date, and what adopting means.
  await named.getByRole('button', { name: '„Entwurf für den Ausschuss“ beschließen…' }).click();
  const dialog = mod.locator('#adopt-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await dialog.locator('h2').first().textContent(), 'Version „Entwurf für den Ausschuss“ beschließen');
  assert.equal(
    await dialog.locator('#adopt-hint').textContent(),
    'Ein beschlossener Text wird im öffentlichen Archiv veröffentlicht, das alle ohne Anmeldung lesen können, und kann danach nie mehr geändert werden.',
  );
  assert.equal(await dialog.getByLabel('Titel').inputValue(), 'Leitbild Bildungsregion');
  assert.equal(await dialog.getByLabel('Datum des Beschlusses').inputValue(), today());
  const body = dialog.getByLabel('Beschlossen von (Gremium)');
  assert.equal(await body.getAttribute('placeholder'), 'z. B. Lenkungsausschuss der Bildungsregion');

  // Without the adopting body nothing is sent: the page says so in German, not the browser.
  await dialog.getByRole('button', { name: 'Beschließen und veröffentlichen' }).click();
  assert.equal(await dialog.locator('#adopt-body-error').textContent(), 'Bitte geben Sie an, welches Gremium den Text beschlossen hat.');
  assert.equal(await body.getAttribute('aria-invalid'), 'true');
  assert.equal(await mod.evaluate(() => document.activeElement.id), 'adopt-body');
  assert.equal(await dialog.locator('form').getAttribute('novalidate'), '');
  assert.deepEqual((await api(env.server.url, 'GET', `/api/archive?doc=${doc.id}`)).body, []);
  await mod.screenshot({ path: path.join(ARTIFACTS, 'archive-dialog.png') });

  await body.fill('Lenkungsausschuss der Bildungsregion');
  await dialog.getByLabel('Datum des Beschlusses').fill('2026-09-29');
  await dialog.getByLabel(/^Vermerk/).fill('Beschluss 12/2026');
  await dialog.getByRole('button', { name: 'Beschließen und veröffentlichen' }).click();

  // The confirmation, with the way to the archived text.
  const link = dialog.getByRole('link', { name: 'Im Archiv ansehen' });
  await link.waitFor();
  const href = await link.getAttribute('href');
  assert.match(href, /^\/archive\/a\d+$/);
  const id = href.slice('/archive/'.length);
  assert.equal(
    await dialog.locator('#adopt-done-text').textContent(),
    '„Leitbild Bildungsregion“ wurde am 29.09.2026 beschlossen und steht jetzt als beschlossene Fassung 1 im öffentlichen Archiv.',
  );
  const { status, body: entry } = await api(env.server.url, 'GET', `/api/archive/${id}`);
  assert.equal(status, 200);
  assert.equal(entry.title, 'Leitbild Bildungsregion');
  assert.equal(entry.adopted_by, 'Lenkungsausschuss der Bildungsregion');
  assert.equal(entry.decided_on, '2026-09-29');
  assert.equal(entry.note, 'Beschluss 12/2026');
  assert.equal(entry.doc, doc.id);
  // The panel behind the dialog knows, too: a message and a mark on the version.
  await eventually(async () => (await named.locator('.badge-adopted').count()) === 1, { message: 'the version to be marked adopted' });
  assert.equal(await named.locator('.badge-adopted').textContent(), 'Beschlossene Fassung 1');
  assert.equal(
    await panel.locator('#versions-status').textContent(),
    '„Leitbild Bildungsregion“ steht jetzt als beschlossene Fassung 1 im Archiv. Im Archiv ansehen',
  );
  await mod.screenshot({ path: path.join(ARTIFACTS, 'archive-adopted.png') });

  // The editor had no errors; from here on the page shows the archive (its errors are counted apart).
  assert.deepEqual(modProblems, []);
  const archiveProblems = [];
  watchArchive(mod, archiveProblems);
  await link.click();
  await mod.waitForURL(`${env.server.url}${href}`);
  await mod.locator('main.adopted-text', { hasText: 'Bildung gelingt gemeinsam.' }).waitFor();
  assert.deepEqual(await cspViolations(mod), []);

  // Anyone, without signing in: the list, then the adopted text.
  const ctxP = await env.browser.newContext({ ...WIDE, locale: 'de-DE' });
  await recordCsp(ctxP);
  const reader = await ctxP.newPage();
  watchArchive(reader, archiveProblems);
  const list = await reader.goto(`${env.server.url}/archive`);
  assert.equal(list.status(), 200);
  assert.deepEqual(await ctxP.cookies(), [], 'not signed in');
  assert.match(await reader.locator('body').textContent(), /Leitbild Bildungsregion/);
  // (The archive's own links keep the page's language: `/archive/a1?lang=de`.)
  const listed = reader.locator(`a[href="/archive/${id}"], a[href^="/archive/${id}?"]`);
  await listed.first().click();
  await reader.waitForURL(new RegExp(`/archive/${id}(\\?|$)`));
  const titleBlock = reader.locator('header.title-block');
  assert.equal(await titleBlock.locator('h1').textContent(), 'Leitbild Bildungsregion');
  const titleText = await titleBlock.textContent();
  assert.match(titleText, /Lenkungsausschuss der Bildungsregion/);
  assert.match(titleText, /29\.\s?0?9\.\s?2026|29\. September 2026/);
  assert.match(await reader.locator('main.adopted-text').textContent(), /Bildung gelingt gemeinsam\./);
  assert.match(await reader.locator('footer.verification').textContent(), new RegExp(entry.sha256));

  // Printed: the text and its title block, no navigation, nothing of the editor.
  await reader.emulateMedia({ media: 'print' });
  assert.equal(await titleBlock.isVisible(), true);
  assert.equal(await reader.locator('main.adopted-text').isVisible(), true);
  const navs = reader.locator('nav.no-print');
  assert.ok((await navs.count()) > 0, 'the page has its navigation');
  for (let i = 0; i < (await navs.count()); i += 1) assert.equal(await navs.nth(i).isVisible(), false, 'the navigation is not printed');
  for (const chrome of ['.ProseMirror', '.toolbar', '.topbar', '#history-panel']) {
    const found = reader.locator(chrome);
    for (let i = 0; i < (await found.count()); i += 1) assert.equal(await found.nth(i).isVisible(), false, `${chrome} is not printed`);
  }
  await reader.screenshot({ path: path.join(ARTIFACTS, 'archive-print.png'), fullPage: true });
  await reader.emulateMedia({ media: 'screen' });
  assert.deepEqual(await cspViolations(reader), []);

  // The draft goes on; the adopted edition is one of the points to compare with.
  const ctxE = await env.browser.newContext({ ...WIDE, bypassCSP: true });
  const mod2 = await openEditor(ctxE, env.server.url, doc.id, 'Mona Moderatorin', problems, { role: 'moderator' });
  await focusEnd(mod2);
  await mod2.keyboard.press('Enter');
  await mod2.keyboard.type('Auch Eltern gestalten mit.');
  await serverHas(doc.id, 'Auch Eltern gestalten mit.');
  const panel2 = await openHistory(mod2);
  const from = panel2.getByLabel('Von');
  const option = from.locator('optgroup[label="Beschlossene Fassungen"] option', { hasText: 'Beschlossene Fassung 1 (29.09.2026)' });
  await option.waitFor({ state: 'attached' });
  assert.equal(await option.getAttribute('value'), id);
  assert.equal(await panel2.getByLabel('Bis').locator(`option[value="${id}"]`).count(), 1);
  await panel2.locator('#editions').getByRole('link', { name: 'Beschlossene Fassung 1 (29.09.2026)' }).waitFor();
  await from.selectOption(id);
  await panel2.getByLabel('Bis').selectOption('now');
  await panel2.getByRole('button', { name: 'Vergleichen', exact: true }).click();
  const inserted = panel2.locator('#diff-view ins', { hasText: 'Auch Eltern gestalten mit.' });
  await inserted.waitFor();
  assert.equal(await panel2.locator('#diff-points').textContent(), 'Beschlossene Fassung 1 (29.09.2026) → Aktueller Stand');
  assert.equal(await panel2.locator('#diff-view .diff-block.op-equal').textContent(), 'Bildung gelingt gemeinsam.');
  assert.match(await panel2.locator('#diff-summary').textContent(), /Wörter: 4 hinzugefügt, 0 entfernt/);

  // The archived text stays as it was adopted.
  await reader.reload();
  assert.doesNotMatch(await reader.locator('main.adopted-text').textContent(), /Eltern/);

  // The dialog with its messages shown and the panel with an edition: no WCAG A/AA violations.
  await panel2.locator('#versions li.version', { hasText: 'Entwurf für den Ausschuss' }).getByRole('button', { name: /beschließen…$/ }).click();
  const dialog2 = mod2.locator('#adopt-dialog');
  await dialog2.waitFor({ state: 'visible' });
  await dialog2.getByLabel('Titel').fill('');
  await dialog2.getByRole('button', { name: 'Beschließen und veröffentlichen' }).click();
  assert.equal(await dialog2.locator('#adopt-title-error').textContent(), 'Bitte geben Sie einen Titel ein.');
  await mod2.addScriptTag({ path: axePath });
  const found = await mod2.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  assert.deepEqual(found.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
  await dialog2.getByRole('button', { name: 'Abbrechen' }).click();
  await dialog2.waitFor({ state: 'hidden' });
  assert.equal(await mod2.evaluate(() => document.activeElement.dataset.action), 'adopt');
  assert.equal((await api(env.server.url, 'GET', `/api/archive?doc=${doc.id}`)).body.length, 1);

  // In English, too.
  await mod2.locator('#lang-select').selectOption('en');
  assert.match(await panel2.locator(`#compare-from option[value="${id}"]`).textContent(), /^Adopted edition 1 \(Sep 29, 2026\)$/);
  assert.equal(await panel2.locator('#archive-link').textContent(), 'archive');
  assert.deepEqual(
    await panel2.locator('#versions li.version', { hasText: 'Entwurf für den Ausschuss' }).getByRole('button').allTextContents(),
    ['Show', 'Compare', 'Restore', 'Adopt…'],
  );
  await mod2.locator('#lang-select').selectOption('de');

  assert.deepEqual(problems, []);
  assert.deepEqual(archiveProblems, []);
  await ctxM.close();
  await ctxP.close();
  await ctxE.close();
});

test('a reader and an editor are not offered adopting, and the server refuses it', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Jugend');
  const { status, body: version } = await api(env.server.url, 'POST', `/api/docs/${doc.id}/versions`, { name: 'Erster Stand' });
  assert.equal(status, 201);
  for (const role of ['reader', 'editor']) {
    const problems = [];
    const ctx = await env.browser.newContext(WIDE);
    const page = await openEditor(ctx, env.server.url, doc.id, `Rita ${role}`, problems, { role });
    const panel = await openHistory(page);
    const item = panel.locator('#versions li.version', { hasText: 'Erster Stand' });
    await item.waitFor();
    assert.equal(await item.getByRole('button', { name: /beschließen/i }).count(), 0, role);
    // The archive link is there for everyone.
    assert.equal(await panel.getByRole('link', { name: 'Archiv', exact: true }).count(), 1, role);
    assert.deepEqual(problems, [], role);
    // The server refuses what the page does not offer (the browser logs the 403: not a problem of the page).
    const refused = await page.evaluate(async ([docId, versionId]) => (await fetch(`/api/docs/${docId}/versions/${versionId}/adopt`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'e2e-refused' },
      body: JSON.stringify({ title: 'Leitbild', adopted_by: 'Ausschuss', decided_on: '2026-09-29' }),
    })).status, [doc.id, version.id]);
    assert.equal(refused, 403, role);
    await ctx.close();
  }
  assert.deepEqual((await api(env.server.url, 'GET', `/api/archive?doc=${doc.id}`)).body, []);
});

test('a submission that got no answer is sent again with the same Idempotency-Key, and is archived once; refusals are told in plain words', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Ganztag');
  const problems = [];
  const ctx = await env.browser.newContext(WIDE);
  const mod = await openEditor(ctx, env.server.url, doc.id, 'Mona Moderatorin', problems, { role: 'moderator' });
  await focusEnd(mod);
  await mod.keyboard.type('Ganztag heißt mehr Zeit zum Lernen.');
  await serverHas(doc.id, 'Ganztag heißt mehr Zeit zum Lernen.');
  const { body: version } = await api(env.server.url, 'POST', `/api/docs/${doc.id}/versions`, { name: 'Fassung für den Kreistag' });
  const panel = await openHistory(mod);
  await panel.locator('#versions li.version', { hasText: 'Fassung für den Kreistag' }).getByRole('button', { name: /beschließen…$/ }).click();
  const dialog = mod.locator('#adopt-dialog');
  await dialog.getByLabel('Beschlossen von (Gremium)').fill('Kreistag');
  const submit = dialog.getByRole('button', { name: 'Beschließen und veröffentlichen' });

  // What the server says when it refuses, in the page's words (the answer is made up here).
  const sent = [];
  const answers = ['forbidden', 'lost', 'server'];
  await mod.route('**/adopt', async (route) => {
    const request = route.request();
    sent.push({ key: request.headers()['idempotency-key'], body: request.postDataJSON() });
    const answer = answers.shift();
    if (answer === 'forbidden') {
      await route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'your role does not allow this', code: 'role' }) });
    } else if (answer === 'lost') {
      // The server takes the submission, but its answer is lost on the way.
      await route.fetch();
      await route.abort('connectionreset');
    } else {
      await route.continue();
    }
  });
  await submit.click();
  await eventually(async () => (await dialog.locator('#adopt-error').textContent()) === 'Nur die Moderation kann Texte beschließen. Ihre Rolle erlaubt das nicht.', { message: 'the refusal in plain words' });
  await submit.click();
  await eventually(
    async () => (await dialog.locator('#adopt-error').textContent()) === 'Der Server hat nicht geantwortet. Bitte versuchen Sie es noch einmal; der Text wird dabei nicht doppelt ins Archiv aufgenommen.',
    { message: 'the lost answer in plain words' },
  );
  await submit.click();
  await dialog.getByRole('link', { name: 'Im Archiv ansehen' }).waitFor();

  // Each submission had a key; the one sent again after the lost answer had the same.
  assert.equal(sent.length, 3);
  assert.ok(sent.every((s) => /^[0-9a-f]{32}$/.test(s.key)), JSON.stringify(sent));
  assert.notEqual(sent[0].key, sent[1].key, 'a refused submission is done with');
  assert.equal(sent[1].key, sent[2].key, 'the retry goes with the same key');
  assert.deepEqual(sent[2].body, { title: 'Leitbild Ganztag', adopted_by: 'Kreistag', decided_on: today() });
  const archived = (await api(env.server.url, 'GET', `/api/archive?doc=${doc.id}`)).body;
  assert.equal(archived.length, 1, 'archived once');
  assert.equal(archived[0].version, version.id);
  assert.equal(archived[0].edition, 1);

  await dialog.getByRole('button', { name: 'Schließen' }).click();
  await dialog.waitFor({ state: 'hidden' });
  // (The browser logs the refused and the failed request; the page itself had no errors.)
  assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await ctx.close();
});
