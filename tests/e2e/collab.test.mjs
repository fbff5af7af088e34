// collab.test.mjs — two people in one document: text, named carets, headings, per-user undo, persistence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startServer, createDoc, docText } from './server.mjs';
import { serverAndBrowser, openEditor, focusEnd, editorText, eventually, waitSynced, ARTIFACTS } from './browser.mjs';

const env = serverAndBrowser();

/**
 * Two fresh browser contexts (separate storage, like two people) on a new document. Both pages'
 * errors, from before they load, are collected in `problems`.
 */
async function twoPeople(title) {
  const doc = await createDoc(env.server.url, title);
  const ctxA = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const ctxB = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  const a = await openEditor(ctxA, env.server.url, doc.id, 'Anna', problems);
  const b = await openEditor(ctxB, env.server.url, doc.id, 'Ben', problems);
  return { doc, a, b, ctxA, ctxB, problems, close: () => Promise.all([ctxA.close(), ctxB.close()]) };
}

test('two people see each other’s text, named carets and presence', async () => {
  const { a, b, problems, close } = await twoPeople('Gemeinsam schreiben');

  await focusEnd(a);
  await a.keyboard.type('Bildung ist Teilhabe.');
  await eventually(async () => (await editorText(b)).includes('Bildung ist Teilhabe.'), { message: 'B sees A’s text' });

  await focusEnd(b);
  await b.keyboard.press('Enter');
  await b.keyboard.type('Lernen hört nie auf.');
  await eventually(async () => (await editorText(a)).includes('Lernen hört nie auf.'), { message: 'A sees B’s text' });
  assert.equal(await editorText(a), await editorText(b), 'both editors hold the same text');

  // Each sees the other's caret with the other's name, and nobody sees a label for themselves.
  await a.locator('.collaboration-carets__label', { hasText: 'Ben' }).waitFor({ state: 'visible' });
  await b.locator('.collaboration-carets__label', { hasText: 'Anna' }).waitFor({ state: 'visible' });
  assert.equal(await a.locator('.collaboration-carets__label', { hasText: 'Anna' }).count(), 0);
  // Screen readers read the text, not the names of other people's carets inside it.
  assert.equal(await a.locator('.collaboration-carets__caret').getAttribute('aria-hidden'), 'true');
  assert.equal((await a.locator('.ProseMirror').ariaSnapshot()).includes('Ben'), false);

  // The "here now" list shows both names, mine marked.
  await eventually(async () => (await a.locator('#people li').allTextContents()).length === 2, { message: 'two people listed' });
  assert.deepEqual(await a.locator('#people li').allTextContents(), ['Anna (Sie)', 'Ben']);
  assert.equal(await a.locator('#conn').getAttribute('data-state'), 'connected');
  assert.match(await a.locator('#conn').textContent(), /Verbunden/);

  // Live counts: "Bildung ist Teilhabe." + "Lernen hört nie auf." = 7 words, 41 characters.
  assert.match(await a.locator('#counts').textContent(), /^7 Wörter · 41 Zeichen$/);

  assert.deepEqual(problems, []);
  await close();
});

test('a third person sees both named carets in the demo document (README screenshot)', async () => {
  const ctxs = await Promise.all([0, 1, 2].map(() => env.browser.newContext({ viewport: { width: 1100, height: 640 } })));
  const problems = [];
  const [a, b] = [await openEditor(ctxs[0], env.server.url, 'bildungsleitbild', 'Anna', problems), await openEditor(ctxs[1], env.server.url, 'bildungsleitbild', 'Ben', problems)];
  const c = await openEditor(ctxs[2], env.server.url, 'bildungsleitbild', 'Clara', problems);
  // Anna selects a word in the first paragraph, Ben's caret sits in the second one.
  const textblockStart = (page, index) =>
    page.evaluate((i) => {
      const starts = [];
      window.leitbild.editor.state.doc.descendants((node, pos) => {
        if (node.isTextblock && node.type.name === 'paragraph') starts.push(pos + 1);
      });
      return starts[i];
    }, index);
  const p0 = await textblockStart(a, 0);
  await a.evaluate((from) => window.leitbild.editor.commands.setTextSelection({ from, to: from + 8 }), p0);
  await a.evaluate(() => window.leitbild.editor.commands.focus());
  const p1 = await textblockStart(b, 1);
  await b.evaluate((at) => window.leitbild.editor.chain().setTextSelection(at + 12).focus().run(), p1);

  await c.locator('.collaboration-carets__label', { hasText: 'Anna' }).waitFor({ state: 'visible' });
  await c.locator('.collaboration-carets__label', { hasText: 'Ben' }).waitFor({ state: 'visible' });
  // The highlight may follow the caret label by an awareness update.
  await eventually(async () => (await c.locator('.ProseMirror-yjs-selection').count()) > 0, { message: 'Anna’s selection to be highlighted' });
  await eventually(async () => (await c.locator('#people li').count()) === 3, { message: 'three people listed' });
  await c.evaluate(() => document.activeElement?.blur());
  await mkdir(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'two-carets.png');
  await c.screenshot({ path: shot });
  if (process.env.UPDATE_SCREENSHOT) await copyFile(shot, path.resolve(ARTIFACTS, '../../docs/screenshot.png'));
  assert.deepEqual(problems, []);
  await Promise.all(ctxs.map((ctx) => ctx.close()));
});

test('a heading made by one person appears as a heading for the other', async () => {
  const { a, b, problems, close } = await twoPeople('Überschriften');
  await focusEnd(a);
  await a.keyboard.type('Unsere Vision');
  await a.getByRole('button', { name: 'Überschrift 2' }).click();
  assert.equal(await a.getByRole('button', { name: 'Überschrift 2' }).getAttribute('aria-pressed'), 'true');
  await b.locator('.ProseMirror h2', { hasText: 'Unsere Vision' }).waitFor();

  // Keyboard shortcut as in other editors: Ctrl+Alt+1 makes a level-1 heading.
  await a.keyboard.press('Enter');
  await a.keyboard.type('Leitbild');
  await a.keyboard.press('Control+Alt+1');
  await b.locator('.ProseMirror h1', { hasText: 'Leitbild' }).waitFor();
  assert.equal(await b.locator('.ProseMirror h2').textContent(), 'Unsere Vision');
  assert.deepEqual(problems, []);
  await close();
});

test('undo is per person: A’s undo removes only A’s typing', async () => {
  const { a, b, problems, close } = await twoPeople('Rückgängig');
  await focusEnd(a);
  await a.keyboard.type('Anna schreibt hier.');
  await eventually(async () => (await editorText(b)).includes('Anna schreibt hier.'), { message: 'B sees A' });

  await focusEnd(b);
  await b.keyboard.press('Enter');
  await b.keyboard.type('Ben ergänzt.');
  await eventually(async () => (await editorText(a)).includes('Ben ergänzt.'), { message: 'A sees B' });

  // A undoes everything A did (Ctrl+Z until there is nothing left of A's to undo).
  await a.locator('.ProseMirror').focus();
  for (let i = 0; i < 20 && (await a.evaluate(() => window.leitbild.editor.can().undo())); i++) {
    await a.keyboard.press('Control+z');
  }
  await eventually(async () => !(await editorText(b)).includes('Anna'), { message: 'A’s text gone at B' });
  assert.ok(!(await editorText(a)).includes('Anna'), 'A’s text is gone at A');
  assert.ok((await editorText(a)).includes('Ben ergänzt.'), 'B’s text remains at A');
  assert.ok((await editorText(b)).includes('Ben ergänzt.'), 'B’s text remains at B');
  assert.equal(await b.getByRole('button', { name: /^Rückgängig/ }).getAttribute('aria-disabled'), 'false', 'B can still undo own typing');

  // Redo brings A's text back, for both.
  await a.keyboard.press('Control+Shift+z');
  await eventually(async () => (await editorText(b)).includes('Anna schreibt hier.'), { message: 'redo reaches B' });
  assert.deepEqual(problems, []);
  await close();
});

test('typed text survives a reload, a fresh browser and a server restart; the API renders it as Markdown', async () => {
  const { doc, a, problems, close } = await twoPeople('Persistenz');
  await focusEnd(a);
  await a.keyboard.type('Leitbild');
  await a.keyboard.press('Control+Alt+1');
  await a.keyboard.press('Enter');
  await a.keyboard.type('Wir lernen ');
  await a.keyboard.press('Control+b');
  await a.keyboard.type('gemeinsam');
  await a.keyboard.press('Control+b');
  await a.keyboard.type(' und fair.');
  const expected = 'Leitbild\nWir lernen gemeinsam und fair.';
  assert.equal(await editorText(a), expected);

  const markdown = '# Leitbild\n\nWir lernen **gemeinsam** und fair.';
  const md = await eventually(async () => {
    const text = await docText(env.server.url, doc.id, 'md');
    return text !== null && text.trim() === markdown && text;
  }, { message: `server Markdown to be ${JSON.stringify(markdown)}` });
  assert.equal(md.trim(), markdown);

  await a.reload();
  await waitSynced(a);
  assert.equal(await editorText(a), expected, 'same text after reload');
  assert.deepEqual(problems, []);
  await close();

  // Restart the server on the same data: a browser with empty storage gets the text from the server.
  await env.server.stop({ keepData: true });
  env.server = await startServer({ dataDir: env.server.dataDir });
  const ctx = await env.browser.newContext();
  const fresh = await openEditor(ctx, env.server.url, doc.id, 'Dora');
  assert.equal(await editorText(fresh), expected, 'text persisted across a server restart');
  assert.equal(await fresh.locator('.ProseMirror h1').textContent(), 'Leitbild');
  assert.equal(await fresh.locator('.ProseMirror strong').textContent(), 'gemeinsam');
  await ctx.close();
});

test('typing and reloading at once, three times, loses nothing and duplicates nothing', async () => {
  const doc = await createDoc(env.server.url, 'Sofort neu laden');
  const ctx = await env.browser.newContext();
  const problems = [];
  const page = await openEditor(ctx, env.server.url, doc.id, 'Anna', problems);
  const lines = [];
  for (const round of [1, 2, 3]) {
    await focusEnd(page);
    if (round > 1) await page.keyboard.press('Enter');
    await page.keyboard.type(`Runde ${round}.`);
    lines.push(`Runde ${round}.`);
    // No waiting for the server or for IndexedDB: the edit must survive a reload right away.
    await page.reload();
    await waitSynced(page);
    assert.equal(await editorText(page), lines.join('\n'), `after round ${round}`);
  }
  const txt = await eventually(async () => {
    const text = await docText(env.server.url, doc.id);
    const body = (text ?? '').split('\n').filter(Boolean).join('\n');
    return body === lines.join('\n') && body;
  }, { message: 'server text to be the three rounds, once each' });
  assert.equal(txt, lines.join('\n'));
  assert.deepEqual(problems, []);
  await ctx.close();
});
