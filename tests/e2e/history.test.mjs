// history.test.mjs — the history panel as people meet it: a moderator names a version, compares
// it with an editor's later change (and sees who made it), restores it while others have the
// document open; readers see history, the text at an earlier moment and who wrote what, but
// cannot name or restore; the panel on a phone; and the panel against axe-core's WCAG rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createDoc, docText, api } from './server.mjs';
import {
  serverAndBrowser, openEditor, focusEnd, editorText, eventually, recordCsp, cspViolations, ARTIFACTS,
} from './browser.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const env = serverAndBrowser();

const WIDE = { viewport: { width: 1400, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true };

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

test('a moderator names a version, compares it with an editor’s change and sees who made it, then restores it; open editors follow live', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Frühe Bildung');
  const problems = [];
  const ctxM = await env.browser.newContext(WIDE);
  const ctxE = await env.browser.newContext(WIDE);
  await recordCsp(ctxM);
  const mod = await openEditor(ctxM, env.server.url, doc.id, 'Mona Moderatorin', problems, { role: 'moderator' });
  const emil = await openEditor(ctxE, env.server.url, doc.id, 'Emil Editor', problems);

  await focusEnd(mod);
  await mod.keyboard.type('Bildung beginnt vor der Schule.');
  await serverHas(doc.id, 'Bildung beginnt vor der Schule.');

  // The panel opens beside the editor, which stays in view.
  const panel = await openHistory(mod);
  assert.equal(await mod.locator('#history-button').getAttribute('aria-expanded'), 'true');
  assert.equal(await panel.locator('#versions-state').textContent(), 'Noch keine benannten Versionen.');
  const [editorBox, panelBox] = [await mod.locator('#editor').boundingBox(), await panel.boundingBox()];
  assert.ok(editorBox.x + editorBox.width <= panelBox.x, `the panel is beside the editor: ${JSON.stringify([editorBox, panelBox])}`);

  // Naming a version: a name is needed, a note is welcome.
  await panel.getByRole('button', { name: 'Version benennen' }).click();
  const dialog = mod.locator('#version-dialog');
  await dialog.waitFor({ state: 'visible' });
  await dialog.getByRole('button', { name: 'Version speichern' }).click();
  assert.equal(await dialog.locator('#version-error').textContent(), 'Bitte geben Sie der Version einen Namen.');
  await dialog.getByLabel('Name der Version').fill('Entwurf nach dem Lenkungsausschuss');
  await dialog.getByLabel('Notiz (freiwillig)').fill('Stand vom 29.09., <b>nicht</b> öffentlich');
  await dialog.getByRole('button', { name: 'Version speichern' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await panel.locator('#versions-status').textContent(), 'Die Version „Entwurf nach dem Lenkungsausschuss“ wurde gespeichert.');
  const named = panel.locator('#versions li.version', { hasText: 'Entwurf nach dem Lenkungsausschuss' });
  await named.waitFor();
  assert.match(await named.locator('.version-meta').textContent(), /^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} · Mona Moderatorin$/);
  // The note is text, not markup.
  assert.equal(await named.locator('.version-note').textContent(), 'Stand vom 29.09., <b>nicht</b> öffentlich');
  assert.equal(await named.locator('.version-note b').count(), 0);

  // Emil adds a paragraph in his own browser.
  await focusEnd(emil);
  await emil.keyboard.press('Enter');
  await emil.keyboard.type('Auch Eltern gehören dazu.');
  await serverHas(doc.id, 'Auch Eltern gehören dazu.');

  // "Compare with …" on the version: against the current text, with Emil named.
  await named.getByRole('button', { name: '„Entwurf nach dem Lenkungsausschuss“ vergleichen mit …' }).click();
  const result = panel.locator('#diff-result');
  await result.waitFor({ state: 'visible' });
  await eventually(async () => (await mod.evaluate(() => document.activeElement.id)) === 'diff-points', { message: 'the focus on the result' });
  assert.match(await panel.locator('#diff-points').textContent(), /^Entwurf nach dem Lenkungsausschuss \(.+\) → Aktueller Stand$/);
  const inserted = panel.locator('#diff-view ins', { hasText: 'Auch Eltern gehören dazu.' });
  await inserted.waitFor();
  assert.equal(await inserted.getAttribute('title'), 'eingefügt von Emil Editor');
  assert.equal(await panel.locator('#diff-view .diff-block.op-insert .diff-note').textContent(), 'eingefügt von Emil Editor');
  assert.equal(await panel.locator('#diff-view .diff-block.op-equal').textContent(), 'Bildung beginnt vor der Schule.');
  // (Intl writes "100 %" with a no-break space.)
  const summary = (await panel.locator('#diff-summary').textContent()).replace(/\u00a0/g, ' ');
  assert.match(summary, /Absätze: 1 hinzugefügt, 0 entfernt, 0 geändert, 0 verschoben/);
  assert.match(summary, /Wörter: 4 hinzugefügt, 0 entfernt/);
  assert.match(summary, /Emil Editor: 4 Wörter hinzugefügt, 0 entfernt \(100 %\)/);

  // Side by side: the earlier text on the left, the current one on the right.
  await panel.getByLabel('Nebeneinander').check();
  const sides = panel.locator('table.diff-sides');
  await sides.waitFor();
  assert.deepEqual(
    (await sides.locator('th').allTextContents()).map((h) => h.replace(/\(.+\)/, '(…)')),
    ['Entwurf nach dem Lenkungsausschuss (…)', 'Aktueller Stand'],
  );
  assert.equal(await sides.locator('tr.op-insert td').nth(1).locator('ins').textContent(), 'eingefügt: Auch Eltern gehören dazu.');
  await panel.getByLabel('Im Text').check();
  await panel.locator('#diff-view .diff-inline').waitFor();

  // The unified diff of the Markdown, as a download.
  const href = await panel.getByRole('link', { name: 'Unterschiede als Datei herunterladen (.diff)' }).getAttribute('href');
  assert.match(href, /\/diff\?from=v\d+&to=now&format=unified$/);
  const unified = await mod.evaluate(async (url) => {
    const res = await fetch(url);
    return { type: res.headers.get('content-disposition'), text: await res.text() };
  }, href);
  assert.match(unified.type, /^attachment/);
  assert.match(unified.text, /^\+Auch Eltern gehören dazu\.$/m);

  // Restore asks first, in plain words.
  await named.getByRole('button', { name: '„Entwurf nach dem Lenkungsausschuss“ wiederherstellen' }).click();
  await mod.locator('#confirm-dialog').waitFor({ state: 'visible' });
  assert.equal(
    await mod.locator('#confirm-text').textContent(),
    '„Entwurf nach dem Lenkungsausschuss“ wiederherstellen? Der aktuelle Text wird durch diese Version ersetzt. Der bisherige Stand bleibt im Verlauf erhalten.',
  );
  await mod.locator('#confirm-dialog').getByRole('button', { name: 'Ja, wiederherstellen' }).click();
  await eventually(async () => (await panel.locator('#versions-status').textContent()) === 'Die Version „Entwurf nach dem Lenkungsausschuss“ wurde wiederhergestellt.', { message: 'the restore to be confirmed' });

  // Both open editors show the restored text live, without a reload.
  await eventually(async () => (await editorText(emil)) === 'Bildung beginnt vor der Schule.', { message: 'Emil’s editor to show the restored text' });
  await eventually(async () => (await editorText(mod)) === 'Bildung beginnt vor der Schule.', { message: 'the moderator’s editor to show the restored text' });
  assert.equal((await docText(env.server.url, doc.id)).trim(), 'Bildung beginnt vor der Schule.');

  // The restore is in the list; the automatic version before it is folded away.
  const restored = panel.locator('#versions li.version', { hasText: 'Wiederhergestellt: Entwurf nach dem Lenkungsausschuss' });
  await restored.waitFor();
  assert.equal(await restored.locator('.badge').textContent(), 'Wiederherstellung');
  const before = panel.locator('#auto-versions li.version', { hasText: 'Vor der Wiederherstellung' });
  assert.equal(await before.isVisible(), false, 'automatic versions are folded');
  await panel.getByLabel('Automatische Versionen anzeigen').check();
  await before.waitFor();
  assert.equal(await before.locator('.badge').textContent(), 'automatisch');
  // The automatic version still holds Emil's paragraph.
  await before.getByRole('button', { name: /anzeigen$/ }).click();
  await panel.locator('#preview', { hasText: 'Auch Eltern gehören dazu.' }).waitFor();

  // Restoring what is already there changes nothing, and the server says so.
  await named.getByRole('button', { name: '„Entwurf nach dem Lenkungsausschuss“ wiederherstellen' }).click();
  await mod.locator('#confirm-dialog').getByRole('button', { name: 'Ja, wiederherstellen' }).click();
  await eventually(async () => (await panel.locator('#versions-status').textContent()) === 'Der aktuelle Text ist bereits der dieser Version; nichts wurde geändert.', { message: 'the server’s message' });

  await mod.screenshot({ path: path.join(ARTIFACTS, 'history-panel.png') });

  // Escape closes the panel and gives the focus back to its button.
  await panel.locator('#history-title').focus();
  await mod.keyboard.press('Escape');
  assert.equal(await panel.isVisible(), false);
  assert.equal(await mod.evaluate(() => document.activeElement.id), 'history-button');
  assert.equal(await mod.locator('#history-button').getAttribute('aria-expanded'), 'false');

  assert.deepEqual(await cspViolations(mod), []);
  assert.deepEqual(problems, []);
  await ctxM.close();
  await ctxE.close();
});

test('a reader sees the versions, the text at an earlier moment and who wrote what, but cannot name or restore', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Jugend');
  const problems = [];
  const ctxW = await env.browser.newContext(WIDE);
  const writer = await openEditor(ctxW, env.server.url, doc.id, 'Erika Schreiber', problems);
  await focusEnd(writer);
  await writer.keyboard.type('Erster Satz.');
  await serverHas(doc.id, 'Erster Satz.');
  const firstDone = Date.now();
  // The log keeps about a second's granularity: the next change must come clearly later.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await writer.keyboard.type(' Zweiter Satz.');
  await serverHas(doc.id, 'Zweiter Satz.');
  const { status, body: named } = await api(env.server.url, 'POST', `/api/docs/${doc.id}/versions`, { name: 'Zwei Sätze' });
  assert.equal(status, 201);

  // axe is injected as a script tag, which the CSP rightly forbids: this context bypasses it.
  const ctxR = await env.browser.newContext({ ...WIDE, bypassCSP: true });
  const reader = await openEditor(ctxR, env.server.url, doc.id, 'Rita Leserin', problems, { role: 'reader' });
  const opened = Date.now();
  const panel = await openHistory(reader);
  const version = panel.locator('#versions li.version', { hasText: 'Zwei Sätze' });
  await version.waitFor();

  // No naming, no restoring: not hidden behind a refusal, simply not there.
  assert.equal(await panel.locator('#version-new').isVisible(), false);
  assert.equal(await panel.getByRole('button', { name: /wiederherstellen/ }).count(), 0);
  assert.equal(await panel.getByRole('button', { name: 'Version benennen' }).count(), 0);
  assert.deepEqual(await version.getByRole('button').allTextContents(), ['Anzeigen', 'Vergleichen mit …']);

  // The timeline: at its start the document was empty; shortly after the first sentence it
  // held that sentence only; at its end it is the current text.
  const slider = panel.getByRole('slider', { name: 'Zeitpunkt' });
  await slider.fill('0');
  await panel.locator('#preview-state', { hasText: 'Zu diesem Zeitpunkt war das Dokument leer.' }).waitFor();
  const created = doc.created_at;
  const value = Math.round(((firstDone + 1000 - created) / (opened - created)) * 1000);
  await slider.fill(String(value));
  await eventually(async () => {
    const text = await panel.locator('#preview').textContent();
    return text.includes('Erster Satz.') && !text.includes('Zweiter Satz.');
  }, { message: `the preview at step ${value} to hold the first sentence only` });
  assert.match(await panel.locator('#preview-heading').textContent(), /^Stand vom \d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2}$/);
  assert.equal(await slider.getAttribute('aria-valuetext'), (await panel.locator('#timeline-at').textContent()));
  await slider.focus();
  await reader.keyboard.press('End');
  await eventually(async () => (await panel.locator('#preview-heading').textContent()) === 'Aktueller Stand', { message: 'the preview of the current text' });
  await panel.locator('#preview', { hasText: 'Erster Satz. Zweiter Satz.' }).waitFor();

  // A reader may compare: the start of the document against the version.
  await panel.getByLabel('Von').selectOption('start');
  await panel.getByLabel('Bis').selectOption(named.id);
  await panel.getByRole('button', { name: 'Vergleichen', exact: true }).click();
  const inserted = panel.locator('#diff-view ins', { hasText: 'Erster Satz.' });
  await inserted.waitFor();
  assert.equal(await inserted.getAttribute('title'), 'eingefügt von Erika Schreiber');

  // Authorship: the passages coloured by author, with a legend.
  await panel.getByLabel('Autorenschaft anzeigen').check();
  await panel.locator('#blame-legend li', { hasText: 'Erika Schreiber' }).waitFor();
  const passage = panel.locator('#blame-view span[class^=blame-a]', { hasText: 'Erster Satz.' });
  await passage.waitFor();
  assert.match(await passage.getAttribute('title'), /^Erika Schreiber, \d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$/);
  // It follows the text while shown.
  await writer.keyboard.type(' Dritter Satz.');
  await panel.locator('#blame-view', { hasText: 'Dritter Satz.' }).waitFor({ timeout: 10_000 });
  // A version someone else names appears in the open list, without a reload.
  const third = await api(env.server.url, 'POST', `/api/docs/${doc.id}/versions`, { name: 'Drei Sätze' });
  assert.equal(third.status, 201);
  await panel.locator('#versions li.version', { hasText: 'Drei Sätze' }).waitFor({ timeout: 15_000 });

  // In English, too.
  await reader.locator('#lang-select').selectOption('en');
  assert.equal(await panel.locator('#history-title').textContent(), 'History');
  assert.equal(await inserted.getAttribute('title'), 'inserted by Erika Schreiber');
  assert.match(await panel.locator('#diff-summary').textContent(), /Words: 4 added, 0 removed/);
  await reader.locator('#lang-select').selectOption('de');

  // The panel with a version list, a preview, a diff and authorship shown: no WCAG A/AA violations.
  await reader.addScriptTag({ path: axePath });
  for (const mode of ['Im Text', 'Nebeneinander']) {
    await panel.getByLabel(mode).check();
    const found = await reader.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    assert.deepEqual(found.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], mode);
  }

  assert.deepEqual(problems, []);
  // The server refuses what the page does not offer.
  const refused = await reader.evaluate(async (id) => (await fetch(`/api/docs/${id}/versions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Leserin' }),
  })).status, doc.id);
  assert.equal(refused, 403);
  await ctxW.close();
  await ctxR.close();
});

test('numbered list items keep their numbers in the diff, side by side and in the authorship view', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Ziele');
  const problems = [];
  const ctx = await env.browser.newContext(WIDE);
  const page = await openEditor(ctx, env.server.url, doc.id, 'Nora Nummer', problems);
  await focusEnd(page);
  // "1. " starts a numbered list.
  await page.keyboard.type('1. Erstens');
  await page.keyboard.press('Enter');
  await page.keyboard.type('Zweitens');
  await page.keyboard.press('Enter');
  await page.keyboard.type('Drittens');
  await serverHas(doc.id, 'Drittens');
  const markers = (locator) => locator.evaluateAll((nodes) => nodes.map((node) => getComputedStyle(node, '::before').content));

  const panel = await openHistory(page);
  await panel.getByLabel('Von').selectOption('start');
  await panel.getByLabel('Bis').selectOption('now');
  await panel.getByRole('button', { name: 'Vergleichen', exact: true }).click();
  await panel.locator('#diff-view ins', { hasText: 'Drittens' }).waitFor();
  assert.deepEqual(await markers(panel.locator('#diff-view .k-ol')), ['"1."', '"2."', '"3."']);
  await panel.getByLabel('Nebeneinander').check();
  await panel.locator('table.diff-sides').waitFor();
  assert.deepEqual(await markers(panel.locator('table.diff-sides .k-ol')), ['"1."', '"2."', '"3."']);

  await panel.getByLabel('Autorenschaft anzeigen').check();
  await panel.locator('#blame-view', { hasText: 'Drittens' }).waitFor();
  assert.deepEqual(await markers(panel.locator('#blame-view .k-ol')), ['"1."', '"2."', '"3."']);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('on a phone the history is a full-screen sheet reached from the header', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild der Jugendhilfe im Landkreis Ludwigslust-Parchim');
  const problems = [];
  const ctx = await env.browser.newContext(PHONE);
  const mod = await openEditor(ctx, env.server.url, doc.id, 'Mona Moderatorin', problems, { role: 'moderator' });
  const button = mod.locator('#history-button');
  const box = await button.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.width >= 60, `the button fits the screen: ${JSON.stringify(box)}`);
  for (const other of ['#doc-title', '#me-button', '#lang-select', '#people-button']) {
    const b = await mod.locator(other).boundingBox();
    const apart = box.x >= b.x + b.width || b.x >= box.x + box.width || box.y >= b.y + b.height || b.y >= box.y + box.height;
    assert.ok(apart, `the history button and ${other} overlap`);
  }

  await button.tap();
  const panel = mod.locator('#history-panel');
  await panel.waitFor({ state: 'visible' });
  const sheet = await panel.boundingBox();
  assert.deepEqual([sheet.x, sheet.y, sheet.width, sheet.height], [0, 0, 390, 844], 'the panel fills the screen');
  // What the sheet covers cannot be reached.
  assert.equal(await mod.locator('.editor-column').evaluate((el) => el.inert), true);
  await panel.getByRole('button', { name: 'Version benennen' }).tap();
  await mod.getByLabel('Name der Version').fill('Vom Handy');
  await mod.getByRole('button', { name: 'Version speichern' }).tap();
  await panel.locator('#versions li.version', { hasText: 'Vom Handy' }).waitFor();
  await panel.getByRole('button', { name: 'Schließen', exact: true }).tap();
  assert.equal(await panel.isVisible(), false);
  assert.equal(await mod.locator('.editor-column').evaluate((el) => el.inert), false);
  assert.deepEqual(problems, []);
  await ctx.close();
});
