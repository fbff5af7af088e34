// polish.test.mjs — issue 10: peers' name labels fade when they are idle, the toolbar names its
// controls and fits one row on a phone, printing shows title, date and a draft mark without the
// editor's chrome, downloads in three formats, and the start page explains itself, counts words,
// names the last editor and asks before creating a second document with the same title.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createDoc, createInvite, api } from './server.mjs';
import { serverAndBrowser, openEditor, signInAsAdmin, focusEnd, editorText, eventually, watchProblems, waitSynced } from './browser.mjs';

const env = serverAndBrowser();
const DESKTOP = { viewport: { width: 1280, height: 800 } };

/** The computed opacity of `name`'s caret label in `page` (null while there is none). */
const labelOpacity = (page, name) =>
  page.evaluate((who) => {
    const label = [...document.querySelectorAll('.collaboration-carets__label')].find((l) => l.textContent === who);
    return label ? Number(getComputedStyle(label).opacity) : null;
  }, name);

test('a peer’s name label shows while they type, fades when they stop, and long names are cut', async () => {
  const doc = await createDoc(env.server.url, 'Carets verblassen');
  const longName = 'Bernhard-Maximilian von Hohenzollern-Sigmaringen und Umgebung';
  assert.equal(longName.length, 61);
  const [ctxA, ctxB] = [await env.browser.newContext(DESKTOP), await env.browser.newContext(DESKTOP)];
  const problems = [];
  const a = await openEditor(ctxA, env.server.url, doc.id, 'Anna', problems);
  const b = await openEditor(ctxB, env.server.url, doc.id, longName, problems);

  await focusEnd(b);
  await b.keyboard.type('Bildung für alle.');
  await eventually(async () => (await labelOpacity(a, longName)) > 0.9, { message: 'label shown while B types' });
  // The label is cut with an ellipsis rather than covering the line.
  const box = await a.locator('.collaboration-carets__label').evaluate((el) => ({
    width: el.getBoundingClientRect().width,
    cut: el.scrollWidth > el.clientWidth,
    overflow: getComputedStyle(el).textOverflow,
  }));
  assert.ok(box.width <= 200, `label width ${box.width}`);
  assert.equal(box.cut, true);
  assert.equal(box.overflow, 'ellipsis');

  // B stops; about 4 s later the label has faded (the caret itself stays).
  await a.waitForTimeout(4000);
  const faded = await labelOpacity(a, longName);
  assert.ok(faded !== null && faded < 0.1, `label opacity after 4 s idle: ${faded}`);
  assert.equal(await a.locator('.collaboration-carets__caret').count(), 1);

  // B types again: the label is back.
  await b.keyboard.type(' Ein Leben lang.');
  await eventually(async () => (await labelOpacity(a, longName)) > 0.9, { timeout: 3000, message: 'label shown again' });
  assert.deepEqual(problems, []);
  await Promise.all([ctxA.close(), ctxB.close()]);
});

test('on a phone the toolbar is one row of named controls, with the block formats in a Format menu', async () => {
  const doc = await createDoc(env.server.url, 'Werkzeugleiste Telefon');
  const ctx = await env.browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const problems = [];
  const page = await openEditor(ctx, env.server.url, doc.id, 'Paula', problems);
  const toolbar = page.locator('#toolbar');

  const shown = await toolbar.locator('button').evaluateAll((buttons) =>
    buttons.filter((b) => b.getClientRects().length > 0 && b.getAttribute('role') === null).map((b) => b.getBoundingClientRect().top),
  );
  assert.ok(shown.length >= 4, `${shown.length} buttons shown`);
  assert.ok(Math.max(...shown) - Math.min(...shown) <= 4, `one row: tops ${shown}`);
  const fits = await toolbar.evaluate((el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= window.innerWidth);
  assert.ok(fits, 'the toolbar fits the screen');
  // Every visible control has a German name.
  for (const name of ['Fett (Strg+B)', 'Kursiv (Strg+I)', 'Format', 'Rückgängig (Strg+Z)', 'Wiederholen (Strg+Umschalt+Z)']) {
    assert.equal(await toolbar.getByRole('button', { name, exact: true }).isVisible(), true, name);
  }
  assert.equal((await toolbar.getByRole('button').evaluateAll((bs) => bs.filter((b) => b.getClientRects().length > 0).length)), 5);

  const format = toolbar.getByRole('button', { name: 'Format', exact: true });
  assert.equal(await format.getAttribute('aria-haspopup'), 'menu');
  assert.equal(await format.getAttribute('aria-expanded'), 'false');
  await page.locator('.ProseMirror').tap();
  await page.keyboard.type('Leitsatz');
  await format.tap();
  assert.equal(await format.getAttribute('aria-expanded'), 'true');
  const menu = page.getByRole('menu', { name: 'Format' });
  const items = await menu.getByRole('menuitemradio').allTextContents();
  assert.deepEqual(items, ['¶Absatz', 'H1Überschrift 1', 'H2Überschrift 2', 'H3Überschrift 3', '•Aufzählung', '1.Nummerierte Liste', '❝Zitat']);
  assert.equal(await menu.getByRole('menuitemradio', { name: 'Absatz', exact: true }).getAttribute('aria-checked'), 'true');
  await menu.getByRole('menuitemradio', { name: 'Überschrift 2', exact: true }).tap();
  assert.equal(await format.getAttribute('aria-expanded'), 'false');
  await page.locator('.ProseMirror h2', { hasText: 'Leitsatz' }).waitFor();
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('on a wide screen the block formats have visible names, and Tab still indents list items', async () => {
  const doc = await createDoc(env.server.url, 'Werkzeugleiste breit');
  const ctx = await env.browser.newContext(DESKTOP);
  const page = await openEditor(ctx, env.server.url, doc.id, 'Wilma');
  const toolbar = page.locator('#toolbar');
  for (const text of ['Absatz', 'Aufzählung', 'Nummerierte Liste', 'Zitat']) {
    assert.equal(await page.locator('#toolbar > button', { hasText: text }).isVisible(), true, text);
  }
  assert.equal(await toolbar.getByRole('button', { name: 'Format', exact: true }).isVisible(), false);
  await focusEnd(page);
  await page.keyboard.type('Eins');
  await toolbar.getByRole('button', { name: 'Aufzählung' }).click();
  await page.keyboard.press('Enter');
  await page.keyboard.type('Zwei');
  await page.keyboard.press('Tab');
  await page.locator('.ProseMirror ul ul li', { hasText: 'Zwei' }).waitFor();
  await page.keyboard.press('Shift+Tab');
  await eventually(async () => (await page.locator('.ProseMirror ul ul').count()) === 0, { message: 'outdented' });
  await ctx.close();
});

test('printing shows title, today’s date and “Entwurf” without chrome; the text downloads as Markdown, HTML and text', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Druck');
  const ctx = await env.browser.newContext(DESKTOP);
  const problems = [];
  const page = await openEditor(ctx, env.server.url, doc.id, 'Dora', problems);
  await page.locator('.ProseMirror').click();
  await page.keyboard.type('Gemeinsam lernen, gemeinsam wachsen.');
  await page.locator('.ProseMirror').click();

  const today = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date());
  await page.emulateMedia({ media: 'print' });
  const head = page.locator('.print-head');
  assert.equal(await head.isVisible(), true, 'the print heading shows');
  const headText = await head.innerText();
  assert.match(headText, /Leitbild Druck/);
  assert.ok(headText.includes(today), `${headText} has ${today}`);
  assert.match(headText, /Entwurf/);
  assert.equal(await page.locator('#toolbar').isVisible(), false, 'no toolbar');
  assert.equal(await page.locator('#export-button').isVisible(), false, 'no print button');
  const frame = await page.locator('#editor').evaluate((el) => {
    const s = getComputedStyle(el);
    return { border: s.borderTopStyle, outline: s.outlineStyle, shadow: s.boxShadow };
  });
  assert.deepEqual(frame, { border: 'none', outline: 'none', shadow: 'none' });
  await page.emulateMedia({ media: 'screen' });
  assert.equal(await head.isVisible(), false, 'not on screen');

  // Drucken calls the browser's print.
  await page.evaluate(() => {
    window.__printed = 0;
    window.print = () => (window.__printed += 1);
  });
  const button = page.getByRole('button', { name: 'Drucken / Herunterladen' });
  await button.click();
  await page.getByRole('menuitem', { name: 'Drucken' }).click();
  await eventually(() => page.evaluate(() => window.__printed === 1), { message: 'print called' });

  await eventually(async () => (await api(env.server.url, 'GET', `/api/docs/${doc.id}/text?format=txt`)).body.includes?.('wachsen'), { message: 'server has the text' });
  for (const [item, ext] of [['Als Markdown herunterladen (.md)', 'md'], ['Als HTML herunterladen (.html)', 'html'], ['Als Text herunterladen (.txt)', 'txt']]) {
    await button.click();
    const menu = page.getByRole('menu');
    assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['Drucken', 'Als Markdown herunterladen (.md)', 'Als HTML herunterladen (.html)', 'Als Text herunterladen (.txt)']);
    const [download] = await Promise.all([page.waitForEvent('download'), menu.getByRole('menuitem', { name: item }).click()]);
    assert.equal(download.suggestedFilename(), `Leitbild-Druck.${ext}`);
    const content = await readFile(await download.path(), 'utf8');
    assert.match(content, /Gemeinsam lernen, gemeinsam wachsen\./, ext);
    if (ext === 'html') assert.match(content, /<title>Leitbild Druck<\/title>/);
  }
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('the start page explains itself, shows words and the last editor, and asks before a duplicate title', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild Startseite');
  const ctxW = await env.browser.newContext(DESKTOP);
  const writer = await openEditor(ctxW, env.server.url, doc.id, 'Greta Beispiel');
  await focusEnd(writer);
  await writer.keyboard.type('Ein Satz mit fünf');
  // The server refreshes the count at most once a second and (so far) only on an edit: a last
  // edit after a pause brings it up to date.
  await writer.waitForTimeout(1500);
  await writer.keyboard.insertText(' Wörtern');
  await eventually(async () => {
    const entry = (await api(env.server.url, 'GET', '/api/docs')).body.find((d) => d.id === doc.id);
    return entry?.words === 5 ? entry : false;
  }, { message: 'server counted the words' }).catch(async (err) => {
    throw new Error(`${err.message}: ${JSON.stringify((await api(env.server.url, 'GET', '/api/docs')).body)}`);
  });
  await ctxW.close();

  const ctx = await env.browser.newContext(DESKTOP);
  await signInAsAdmin(ctx, env.server.url);
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  await page.goto(`${env.server.url}/`);
  await page.locator('.intro').waitFor();
  assert.match(await page.locator('.intro').innerText(), /Personen und Links/);
  const row = page.locator('#docs-body tr', { hasText: 'Leitbild Startseite' });
  await row.waitFor();
  assert.equal(await page.locator('#docs-table th').nth(2).textContent(), 'Wörter');
  assert.equal((await row.locator('td').nth(2).textContent()).trim(), '5');
  assert.match(await row.locator('td').nth(1).textContent(), /von Greta Beispiel/);

  // The same title, other case and spaces: open the existing one.
  await page.getByLabel('Titel für ein neues Dokument').fill('  leitbild STARTSEITE ');
  await page.getByRole('button', { name: 'Anlegen' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /„Leitbild Startseite“/);
  await dialog.getByRole('button', { name: 'Vorhandenes öffnen' }).click();
  await page.waitForURL(`${env.server.url}/d/${doc.id}`);
  await waitSynced(page);

  // Again, and create anyway: a second document, empty, with a hint in the text.
  await page.goto(`${env.server.url}/`);
  await page.getByLabel('Titel für ein neues Dokument').fill('Leitbild Startseite');
  await page.getByRole('button', { name: 'Anlegen' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Trotzdem anlegen' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/d/') && url.pathname !== `/d/${doc.id}`);
  await waitSynced(page);
  const hint = page.locator('.ProseMirror p.is-empty-doc');
  await hint.waitFor();
  assert.match(await hint.getAttribute('data-hint'), /noch leer/);
  assert.equal(await editorText(page), '', 'the hint is not text');
  const list = (await api(env.server.url, 'GET', '/api/docs')).body;
  assert.equal(list.filter((d) => d.title === 'Leitbild Startseite').length, 2);
  assert.deepEqual(problems, []);
  await ctx.close();
});
