// phone.test.mjs — the editor on a phone (390×844, touch) and on a desktop (1280×800): the header
// shows title, own name and language menu side by side; "Jetzt dabei" is reachable above the text;
// long names end in an ellipsis and show in full on hover and focus; going offline says how many
// changes wait, and the message goes once they are sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDoc } from './server.mjs';
import { serverAndBrowser, openEditor, focusEnd, editorText, eventually, waitSynced, watchProblems } from './browser.mjs';

const env = serverAndBrowser();

const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true };
const DESKTOP = { viewport: { width: 1280, height: 800 } };
// 60 characters.
const LONG_NAME = 'Maximiliane Alexandra Friederike Annelie Müller-Lüdenscheidt';

const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** The element is cut with an ellipsis: its text is wider than its box. */
const isCut = (locator) => locator.evaluate((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === 'ellipsis');

test('phone: the header shows title, name and language apart; tapping the name opens the name dialog', async () => {
  assert.equal(LONG_NAME.length, 60);
  const doc = await createDoc(env.server.url, 'Leitbild Bildungsregion Landkreis Ludwigslust-Parchim 2030');
  const ctx = await env.browser.newContext(PHONE);
  const problems = [];
  const page = await openEditor(ctx, env.server.url, doc.id, LONG_NAME, problems);

  const boxes = {};
  for (const selector of ['#doc-title', '#me-button', '#lang-select']) {
    assert.equal(await page.locator(selector).isVisible(), true, `${selector} is visible`);
    boxes[selector] = await page.locator(selector).boundingBox();
    const box = boxes[selector];
    assert.ok(box.width >= 40 && box.x >= 0 && box.x + box.width <= 390, `${selector} lies on the screen: ${JSON.stringify(box)}`);
  }
  const names = Object.keys(boxes);
  for (const [i, a] of names.entries()) {
    for (const b of names.slice(i + 1)) assert.ok(!overlap(boxes[a], boxes[b]), `${a} and ${b} overlap`);
  }
  // The long name stays on one line, cut with an ellipsis, whole in the title.
  assert.ok(boxes['#me-button'].height < 56, `the name chip is one line high: ${boxes['#me-button'].height}`);
  assert.equal(await isCut(page.locator('#me-name')), true, 'the name in the header ends in an ellipsis');
  assert.equal(await page.locator('#me-button').getAttribute('title'), LONG_NAME);

  // Tap in the middle of the name: the name dialog, not the language menu.
  const me = boxes['#me-button'];
  await page.touchscreen.tap(me.x + me.width / 2, me.y + me.height / 2);
  await page.locator('#name-dialog').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#name-input').inputValue(), LONG_NAME);
  await page.locator('#name-cancel').tap();
  assert.equal(await page.locator('#name-dialog').isVisible(), false);

  assert.deepEqual(problems, []);
  await ctx.close();
});

test('phone: "Jetzt dabei" is above the text, folded; it opens to the list and Escape folds it again', async () => {
  const doc = await createDoc(env.server.url, 'Viel Text');
  // A long document, so that anything below it is screens away.
  const ctxB = await env.browser.newContext();
  const b = await openEditor(ctxB, env.server.url, doc.id, 'Ben');
  await b.evaluate(() => {
    const html = Array.from({ length: 60 }, (_, i) => `<p>Absatz ${i + 1}: Bildung beginnt vor der Schule und endet nicht mit ihr.</p>`).join('');
    window.leitbild.editor.commands.setContent(html);
  });
  const ctx = await env.browser.newContext(PHONE);
  const page = await openEditor(ctx, env.server.url, doc.id, LONG_NAME);
  await eventually(async () => (await editorText(page)).includes('Absatz 60'), { message: 'the long text' });
  assert.ok(await page.evaluate(() => document.documentElement.scrollHeight > 3 * innerHeight), 'the page is several screens long');

  const toggle = page.locator('#people-toggle');
  await eventually(async () => (await toggle.textContent()).includes('Jetzt dabei (2)'), { message: 'the button counts two people' });
  const box = await toggle.boundingBox();
  assert.ok(box && box.y >= 0 && box.y < 844, `the button is on the first screen: ${JSON.stringify(box)}`);
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('#people').isVisible(), false, 'folded at first');

  await toggle.tap();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const mine = page.locator('#people li', { hasText: '(Sie)' });
  await mine.waitFor({ state: 'visible' });
  assert.equal(await mine.locator('.person-name').textContent(), LONG_NAME);
  const listBox = await page.locator('#people').boundingBox();
  assert.ok(listBox.y < 844, 'the list opens on the first screen');

  // Escape folds it and the focus goes back to the button.
  await page.locator('#people li .person-name').first().focus();
  await page.keyboard.press('Escape');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('#people').isVisible(), false);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'people-toggle');

  await ctx.close();
  await ctxB.close();
});

for (const [label, options] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  test(`${label}: a 60-character name ends in an ellipsis in the list, "(Sie)" stays whole, and the name shows in full on hover and focus`, async () => {
    const doc = await createDoc(env.server.url, `Lange Namen ${label}`);
    const ctx = await env.browser.newContext(options);
    const page = await openEditor(ctx, env.server.url, doc.id, LONG_NAME);
    // (Before the fold-out button existed the list was always open: then there is nothing to tap.)
    if (label === 'phone' && (await page.locator('#people-toggle').count()) > 0) await page.locator('#people-toggle').tap();
    const item = page.locator('#people li', { hasText: '(Sie)' });
    await item.waitFor({ state: 'visible' });
    const name = item.locator('.person-name');
    assert.equal(await name.textContent(), LONG_NAME, 'the whole name is in the DOM');
    assert.equal(await name.getAttribute('title'), LONG_NAME, 'and in the title');
    assert.equal(await isCut(name), true, 'the name is cut with an ellipsis');
    const you = item.locator('.person-you');
    assert.equal(await you.textContent(), '(Sie)');
    assert.equal(await you.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), true, '"(Sie)" is not cut');
    const [nameBox, youBox, itemBox] = [await name.boundingBox(), await you.boundingBox(), await item.boundingBox()];
    assert.ok(youBox.x >= nameBox.x + nameBox.width - 1 && youBox.x + youBox.width <= itemBox.x + itemBox.width + 1, '"(Sie)" follows the name, inside the row');

    // Keyboard: the cut name takes the focus and then shows in full.
    assert.equal(await name.getAttribute('tabindex'), '0', 'a cut name is focusable');
    await name.focus();
    assert.equal(await name.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), true, 'in full on focus');
    await name.blur();
    assert.equal(await isCut(name), true, 'cut again after focus');
    if (label === 'desktop') {
      await name.hover();
      assert.equal(await name.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), true, 'in full on hover');
    }
    await ctx.close();
  });
}

test('offline: a message says the changes are kept here and how many wait; it goes once they are sent', async () => {
  const doc = await createDoc(env.server.url, 'Funkloch');
  const ctxA = await env.browser.newContext(PHONE);
  const ctxB = await env.browser.newContext(DESKTOP);
  const problems = [];
  const a = await openEditor(ctxA, env.server.url, doc.id, 'Anna', problems);
  const b = await openEditor(ctxB, env.server.url, doc.id, 'Ben');
  const pending = a.locator('#pending');
  assert.equal(await pending.getAttribute('role'), 'status');
  assert.equal(await pending.getAttribute('aria-live'), 'polite');
  assert.equal(await pending.isVisible(), false, 'nothing to say while connected');

  await ctxA.setOffline(true);
  await eventually(async () => (await a.locator('#conn').getAttribute('data-state')) === 'offline', { message: 'A shows offline' });
  await pending.waitFor({ state: 'visible' });
  assert.match(await pending.textContent(), /Ihre Änderungen bleiben auf diesem Gerät gespeichert und werden gesendet, sobald die Verbindung wieder besteht/);
  const box = await pending.boundingBox();
  assert.ok(box.y >= 0 && box.y < 844, 'the message is on the screen');

  // Two edits: two separate transactions.
  await focusEnd(a);
  await a.evaluate(() => window.leitbild.editor.commands.insertContent('Im Funkloch'));
  await a.evaluate(() => window.leitbild.editor.commands.insertContent(' geschrieben.'));
  await eventually(async () => (await pending.textContent()).includes('2 Änderungen warten auf die Verbindung.'), { message: 'the count of 2' });
  // And a third, typed.
  await a.keyboard.type('!');
  await eventually(async () => (await pending.textContent()).includes('3 Änderungen warten auf die Verbindung.'), { message: 'the count of 3' });
  assert.ok(!(await editorText(b)).includes('Im Funkloch'), 'nothing reached B while offline');

  await ctxA.setOffline(false);
  await waitSynced(a);
  await eventually(async () => (await editorText(b)).includes('Im Funkloch geschrieben.!'), { message: 'B has the text' });
  await eventually(async () => !(await pending.isVisible()) && (await pending.textContent()) === '', { message: 'the message goes' });

  // English too.
  await a.locator('#lang-select').selectOption('en');
  await ctxA.setOffline(true);
  await focusEnd(a);
  await a.keyboard.type('x');
  await eventually(async () => (await pending.textContent()).includes('1 change is waiting for the connection.'), { message: 'the English count' });
  assert.match(await pending.textContent(), /You are offline\. Your changes are kept on this device/);
  await ctxA.setOffline(false);
  await waitSynced(a);
  await eventually(async () => (await pending.textContent()) === '', { message: 'the message goes' });

  assert.deepEqual(problems, []);
  await ctxA.close();
  await ctxB.close();
});
