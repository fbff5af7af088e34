// access.test.mjs — access control as people meet it in the browser: opening invite links, links
// that do not work, readers, the moderators' panel (links, QR codes, revoking, the log), and the
// same on a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDoc, createInvite, docText, api, ADMIN_TOKEN } from './server.mjs';
import { serverAndBrowser, openEditor, joinGroup, watchProblems, waitSynced, editorText, focusEnd, eventually, recordCsp, cspViolations } from './browser.mjs';

const env = serverAndBrowser();

test('an invite link ends in an HttpOnly session cookie and a clean address; a broken link says why', async () => {
  const doc = await createDoc(env.server.url, 'Einladung');
  const { link } = await createInvite(env.server.url, doc.id, { name: 'Anna Krüger', group: 'Kita-Verbund Parchim' });
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  await page.goto(link);
  await waitSynced(page);

  assert.equal(page.url(), `${env.server.url}/d/${doc.id}`, 'no token in the address');
  const cdp = await ctx.newCDPSession(page);
  const { entries } = await cdp.send('Page.getNavigationHistory');
  assert.deepEqual(entries.filter((e) => e.url.includes('token=')), [], 'no token in the history');
  const [cookie] = (await ctx.cookies()).filter((c) => c.name === 'leitbild_session');
  assert.ok(cookie, 'a session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session');

  // The name is the invite's, from the server; nobody was asked for one.
  assert.equal(await page.locator('#me-name').textContent(), 'Anna Krüger');
  assert.equal(await page.locator('#me-group').textContent(), 'Kita-Verbund Parchim');
  assert.equal(await page.locator('#me-button').getAttribute('title'), 'Anna Krüger (Kita-Verbund Parchim)');
  assert.equal(await page.locator('#name-dialog').isVisible(), false);
  assert.deepEqual(await page.locator('#people li').allTextContents(), ['Anna Krüger (Sie)Kita-Verbund Parchim']);
  assert.deepEqual(await page.locator('#people li .person-name').allTextContents(), ['Anna Krüger'], 'the name alone, without the marker');

  // A second link in the same browser, now under the service worker: the server still gets the
  // token (the worker keeps out of it), the session holds one more document, the address is clean.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });
  const second = await createDoc(env.server.url, 'Zweites Dokument');
  await page.goto((await createInvite(env.server.url, second.id, { name: 'Anna K.' })).link);
  await waitSynced(page);
  assert.equal(page.url(), `${env.server.url}/d/${second.id}`);
  assert.equal(await page.locator('#me-name').textContent(), 'Anna K.');
  const { entries: later } = await cdp.send('Page.getNavigationHistory');
  assert.deepEqual(later.filter((e) => e.url.includes('token=')), [], 'no token in the history');
  const visible = await page.evaluate(() => fetch('/api/docs').then((r) => r.json()));
  assert.deepEqual(visible.map((d) => d.id).sort(), [doc.id, second.id].sort(), 'both documents, and only those');
  assert.deepEqual(problems, []);

  // A document the session has no role in: the server's 403, in plain words.
  const elsewhere = await ctx.newPage();
  await elsewhere.goto(`${env.server.url}/d/bildungsleitbild`);
  await elsewhere.locator('.explain h1').waitFor();
  assert.equal(await elsewhere.locator('.explain h1').textContent(), 'Kein Zugang zu diesem Dokument');
  assert.match(
    await elsewhere.locator('.explain').textContent(),
    /Ihr Zugang zu diesem Dokument wurde widerrufen, ist abgelaufen, oder Ihr Link gilt für ein anderes Dokument\./,
  );
  assert.equal(await elsewhere.locator('#editor').count(), 0, 'no editor');

  // A link that is not one: a plain message, the explanation, and the address cleaned up.
  const stranger = await (await env.browser.newContext()).newPage();
  await stranger.goto(`${env.server.url}/d/${doc.id}?token=not-a-real-token-0123456789`);
  await stranger.locator('#signin-notice').waitFor();
  assert.match(await stranger.locator('#signin-text').textContent(), /^Dieser Link ist ungültig\./);
  assert.equal(await stranger.locator('.explain h1').textContent(), 'Sie benötigen einen Einladungslink');
  assert.equal(stranger.url(), `${env.server.url}/d/${doc.id}`, 'no ?signin= left in the address');
  await stranger.getByRole('button', { name: 'Hinweis schließen' }).click();
  assert.equal(await stranger.locator('#signin-notice').isVisible(), false);
  await stranger.context().close();
  await ctx.close();
});

test('a reader’s editor is read-only and says so, and still shows others’ changes live', async () => {
  const doc = await createDoc(env.server.url, 'Nur lesen');
  const ctxR = await env.browser.newContext();
  const ctxE = await env.browser.newContext();
  const problems = [];
  const reader = await openEditor(ctxR, env.server.url, doc.id, 'Rita', problems, { role: 'reader' });
  const writer = await openEditor(ctxE, env.server.url, doc.id, 'Emil', problems);

  assert.equal(await reader.locator('#read-only-notice').isVisible(), true);
  assert.equal(await reader.locator('#read-only-notice').textContent(), 'Sie können diesen Text lesen, aber nicht ändern.');
  assert.equal(await reader.locator('#toolbar').isVisible(), false, 'no formatting toolbar');
  assert.equal(await reader.locator('.ProseMirror').getAttribute('contenteditable'), 'false');
  assert.equal(await writer.locator('#read-only-notice').isVisible(), false);

  // Typing changes nothing, here or on the server.
  await reader.locator('.ProseMirror').click();
  await reader.keyboard.type('Rita war hier.');
  await reader.keyboard.press('Enter');
  await reader.keyboard.press('Control+b');
  assert.equal(await editorText(reader), '');

  // The writer's text reaches the reader live, and both see each other.
  await focusEnd(writer);
  await writer.keyboard.type('Emil schreibt.');
  await eventually(async () => (await editorText(reader)) === 'Emil schreibt.', { message: 'the reader sees the writer’s text' });
  await eventually(async () => (await reader.locator('#people li').count()) === 2, { message: 'the reader sees the writer' });
  assert.deepEqual(await writer.locator('#people li').allTextContents(), ['Emil (Sie)', 'Rita']);
  const server = await eventually(async () => {
    const text = await docText(env.server.url, doc.id);
    return text?.includes('Emil schreibt.') && text;
  }, { message: 'the server text' });
  assert.ok(!server.includes('Rita'), 'nothing of the reader’s typing on the server');
  assert.deepEqual(problems, []);
  await ctxR.close();
  await ctxE.close();
});

test('a moderator creates a personal and a group link, sees them listed, and revoking ends access at once', async () => {
  const doc = await createDoc(env.server.url, 'Moderation');
  const ctxM = await env.browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  await recordCsp(ctxM);
  const problems = [];
  const mod = await openEditor(ctxM, env.server.url, doc.id, 'Mona', problems, { role: 'moderator' });
  const panel = mod.locator('#people-panel');

  await mod.getByRole('button', { name: 'Personen und Links' }).click();
  await panel.waitFor({ state: 'visible' });
  // The role can be chosen up to the moderator's own; never admin.
  assert.deepEqual(await panel.locator('#invite-role option').evaluateAll((os) => os.map((o) => o.value)), ['reader', 'editor', 'moderator']);

  // The page's own messages, not the browser's: a personal link needs a name.
  await panel.getByRole('button', { name: 'Link erstellen' }).click();
  assert.equal(await panel.locator('#invite-name-error').textContent(), 'Bitte geben Sie den Namen der Person ein.');
  assert.equal(await mod.evaluate(() => document.activeElement.id), 'invite-name');

  // A personal link: shown once, with a copy button and a QR code.
  await panel.getByLabel('Name der Person').fill('Paul Person');
  await panel.getByLabel('Organisation oder Gruppe (freiwillig)').fill('Jugendamt');
  await panel.getByRole('button', { name: 'Link erstellen' }).click();
  await panel.locator('#link-result').waitFor();
  const paulLink = await panel.locator('#link-output').inputValue();
  assert.match(paulLink, new RegExp(`^${env.server.url}/d/${doc.id}\\?token=[A-Za-z0-9_-]+$`));
  assert.match(await panel.locator('#link-result').textContent(), /nur jetzt angezeigt/);
  const qr = panel.locator('#link-qr');
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml/);
  await eventually(() => qr.evaluate((img) => img.complete && img.naturalWidth > 0), { message: 'the QR code image to render' });
  assert.equal(await qr.getAttribute('alt'), 'QR-Code des Einladungslinks');
  await panel.getByRole('button', { name: 'Link kopieren' }).click();
  await eventually(async () => (await panel.locator('#copy-state').textContent()) === 'Kopiert.', { message: 'copied' });
  assert.equal(await mod.evaluate(() => navigator.clipboard.readText()), paulLink);

  // A group link for at most five people, who may only read.
  await panel.getByLabel('Gruppenlink').check();
  assert.equal(await panel.locator('#field-name').isVisible(), false, 'a group link has no person’s name');
  await panel.getByLabel('Organisation oder Gruppe (freiwillig)').fill('Schulen im Kreis');
  await panel.getByLabel('Rolle').selectOption('reader');
  await panel.getByLabel('Höchstzahl an Personen (freiwillig)').fill('fünf');
  await panel.getByLabel('Gültig bis (freiwillig)').fill('2020-01-31');
  await panel.getByRole('button', { name: 'Link erstellen' }).click();
  assert.equal(await panel.locator('#invite-expires-error').textContent(), 'Das Datum liegt in der Vergangenheit. Bitte wählen Sie heute oder einen späteren Tag.');
  assert.equal(await panel.locator('#invite-max-error').textContent(), 'Bitte geben Sie eine ganze Zahl ab 1 ein, oder lassen Sie das Feld leer.');
  await panel.getByLabel('Höchstzahl an Personen (freiwillig)').fill('5');
  await panel.getByLabel('Gültig bis (freiwillig)').fill('2099-12-31');
  await panel.getByRole('button', { name: 'Link erstellen' }).click();
  await eventually(async () => (await panel.locator('#link-output').inputValue()) !== paulLink, { message: 'the group link' });
  const groupLink = await panel.locator('#link-output').inputValue();
  assert.match(await panel.locator('#link-result-title').textContent(), /Schulen im Kreis/);

  // Both are listed.
  const paulItem = panel.locator('li.invite', { hasText: 'Paul Person' });
  const groupItem = panel.locator('li.invite', { hasText: 'Schulen im Kreis' });
  await groupItem.waitFor();
  assert.match(await paulItem.textContent(), /aktiv/);
  assert.match(await paulItem.textContent(), /Einzelperson · Schreiben · ohne Ablaufdatum/);
  assert.match(await groupItem.textContent(), /Gruppenlink · Lesen · gültig bis 31\.12\.2099, 23:59 · 0 von 5 Personen/);

  // Paul and a member of the group open their links.
  const ctxP = await env.browser.newContext();
  const paul = await ctxP.newPage();
  await paul.goto(paulLink);
  await waitSynced(paul);
  assert.equal(await paul.locator('#me-name').textContent(), 'Paul Person');
  const ctxG = await env.browser.newContext();
  const gerda = await joinGroup(ctxG, groupLink, 'Gerda');

  // The panel shows the member once opened again; closing it forgot the link.
  await panel.getByRole('button', { name: 'Schließen' }).click();
  await mod.getByRole('button', { name: 'Personen und Links' }).click();
  assert.equal(await panel.locator('#link-result').isVisible(), false, 'the link is shown only once');
  await eventually(async () => /1 von 5 Personen/.test(await groupItem.textContent()), { message: 'one member counted' });
  assert.match(await groupItem.locator('.members').textContent(), /Gerda/);

  // Revoking asks first; "Abbrechen" keeps the link.
  await panel.getByRole('button', { name: 'Link für Paul Person widerrufen' }).click();
  await mod.locator('#confirm-dialog').waitFor();
  assert.match(await mod.locator('#confirm-text').textContent(), /Paul Person/);
  await mod.locator('#confirm-dialog').getByRole('button', { name: 'Abbrechen' }).click();
  assert.match(await paulItem.textContent(), /aktiv/);
  assert.equal(await paul.locator('#conn').getAttribute('data-state'), 'connected');

  await panel.getByRole('button', { name: 'Link für Paul Person widerrufen' }).click();
  await mod.locator('#confirm-dialog').getByRole('button', { name: 'Ja, widerrufen' }).click();
  await eventually(async () => /widerrufen/.test(await paulItem.locator('.status').textContent()), { message: 'Paul’s link listed as revoked' });
  // Paul's open editor learns it within seconds, stops and says so.
  await eventually(async () => (await paul.locator('#conn').getAttribute('data-state')) === 'revoked', { timeout: 5_000, message: 'Paul’s page to show revoked' });
  assert.match(await paul.locator('#conn-notice').textContent(), /Ihr Zugang wurde widerrufen oder ist abgelaufen\./);
  assert.equal(await paul.locator('.ProseMirror').getAttribute('contenteditable'), 'false');
  assert.equal(await paul.evaluate(() => window.leitbild.provider.shouldConnect), false, 'no reconnecting');

  // One member of the group link, the same way.
  await panel.getByRole('button', { name: 'Zugang von Gerda widerrufen' }).click();
  await mod.locator('#confirm-dialog').getByRole('button', { name: 'Ja, widerrufen' }).click();
  await eventually(async () => (await gerda.locator('#conn').getAttribute('data-state')) === 'revoked', { timeout: 5_000, message: 'Gerda’s page to show revoked' });
  await eventually(async () => /widerrufen/.test(await groupItem.locator('.members').textContent()), { message: 'Gerda listed as revoked' });

  // The log, newest first.
  const log = await eventually(async () => {
    const items = await panel.locator('#audit li').allTextContents();
    return items.length >= 5 && items;
  }, { message: 'the audit log' });
  assert.match(log[0], /Mona hat den Zugang von Gerda widerrufen/);
  assert.match(log[1], /Mona hat den Link für Paul Person widerrufen/);
  assert.ok(log.some((entry) => /Gerda \(Schulen im Kreis\) ist über den Gruppenlink dazugekommen/.test(entry)), `Gerda joined: ${JSON.stringify(log)}`);
  assert.ok(log.some((entry) => /Mona hat einen Link erstellt: Paul Person \(Einzelperson, Schreiben\)/.test(entry)), 'Paul’s link created');

  // Paul's link no longer signs anyone in: the server says "revoked", the page explains it.
  const ctxLate = await env.browser.newContext();
  const late = await ctxLate.newPage();
  const response = await late.goto(paulLink);
  const redirect = await response.request().redirectedFrom().response();
  assert.equal(redirect.status(), 303);
  assert.match(redirect.headers().location, /[?&]signin=revoked$/);
  await late.locator('#signin-notice').waitFor();
  assert.match(await late.locator('#signin-text').textContent(), /^Dieser Link wurde widerrufen/);
  assert.equal(late.url(), `${env.server.url}/d/${doc.id}`);

  assert.deepEqual(await cspViolations(mod), []);
  assert.deepEqual(problems, []);
  await Promise.all([ctxM, ctxP, ctxG, ctxLate].map((c) => c.close()));
});

test('admins rename, delete and restore documents on the start page; an open editor learns of the deletion', async () => {
  const doc = await createDoc(env.server.url, 'Entwurf Kitas');
  const ctxA = await env.browser.newContext();
  const problems = [];
  const admin = await ctxA.newPage();
  watchProblems(admin, problems);
  await admin.goto(`${env.server.url}/?token=${ADMIN_TOKEN}`);
  assert.equal(admin.url(), `${env.server.url}/`);
  const row = (title) => admin.locator('#docs-body tr', { hasText: title });
  await row('Entwurf Kitas').waitFor();
  assert.equal(await admin.locator('#create-form').isVisible(), true);

  // Rename, in the page's own dialog.
  await admin.getByRole('button', { name: '„Entwurf Kitas“ umbenennen' }).click();
  await admin.locator('#text-input').fill('  ');
  await admin.locator('#text-save').click();
  assert.equal(await admin.locator('#text-error').textContent(), 'Bitte geben Sie einen Titel ein.');
  await admin.locator('#text-input').fill('Leitbild Kitas');
  await admin.locator('#text-save').click();
  await row('Leitbild Kitas').waitFor();
  assert.equal(await row('Leitbild Kitas').locator('a').getAttribute('href'), `/d/${doc.id}`);

  // Someone is writing in it.
  const ctxW = await env.browser.newContext();
  const writer = await openEditor(ctxW, env.server.url, doc.id, 'Wiebke');
  assert.equal(await writer.locator('#doc-title').textContent(), 'Leitbild Kitas');

  // Delete: a question that says it can be restored for 30 days; then it is in the trash.
  await admin.getByRole('button', { name: '„Leitbild Kitas“ löschen' }).click();
  assert.match(await admin.locator('#confirm-text').textContent(), /30 Tage lang wiederhergestellt/);
  await admin.locator('#confirm-yes').click();
  await admin.locator('#trash-body tr', { hasText: 'Leitbild Kitas' }).waitFor();
  await eventually(async () => (await row('Leitbild Kitas').count()) === 0, { message: 'the document gone from the list' });
  await eventually(async () => (await writer.locator('#conn').getAttribute('data-state')) === 'deleted', { timeout: 5_000, message: 'the writer to learn of the deletion' });
  assert.match(await writer.locator('#conn-notice').textContent(), /Dieses Dokument wurde gelöscht\./);
  assert.equal(await writer.locator('.ProseMirror').getAttribute('contenteditable'), 'false');

  // Restore brings it back to the list.
  await admin.getByRole('button', { name: '„Leitbild Kitas“ wiederherstellen' }).click();
  await row('Leitbild Kitas').waitFor();
  await admin.locator('#trash-state', { hasText: 'Der Papierkorb ist leer.' }).waitFor();

  // A writer's start page: their documents, none of the admin's tools.
  const mine = await ctxW.newPage();
  await mine.goto(`${env.server.url}/`);
  await mine.locator('#docs-body tr', { hasText: 'Leitbild Kitas' }).waitFor();
  assert.equal(await mine.locator('#docs-body tr').count(), 1);
  assert.equal(await mine.locator('#docs-body tr td').nth(3).textContent(), 'Schreiben');
  assert.equal(await mine.locator('#create-form').isVisible(), false);
  assert.equal(await mine.locator('#trash').isVisible(), false);
  assert.equal(await mine.getByRole('button', { name: /löschen/ }).count(), 0);

  assert.deepEqual(problems, []);
  await ctxA.close();
  await ctxW.close();
});

/** Whether two bounding boxes overlap. */
const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * The boxes of `selectors` in `page`: each must be visible, at least `minWidth` wide (the
 * connection badge may be just its dot), inside the 390 px wide screen, none overlapping another.
 */
async function assertHeaderFits(page, selectors) {
  const boxes = [];
  for (const selector of selectors) {
    const box = await page.locator(selector).boundingBox();
    const minWidth = selector === '#conn' ? 8 : 60;
    assert.ok(box && box.width >= minWidth && box.height > 10, `${selector} is shown (${JSON.stringify(box)})`);
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `${selector} lies within the screen (${JSON.stringify(box)})`);
    boxes.push([selector, box]);
  }
  for (const [i, [nameA, a]] of boxes.entries()) {
    for (const [nameB, b] of boxes.slice(i + 1)) assert.ok(!overlap(a, b), `${nameA} and ${nameB} overlap: ${JSON.stringify([a, b])}`);
  }
}

const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true };

test('on a phone: join a group link, give a name, see oneself, type; the header fits; the name and the panel work by touch', async () => {
  const doc = await createDoc(env.server.url, 'Leitbild der Jugendhilfe im Landkreis Ludwigslust-Parchim');
  const { link } = await createInvite(env.server.url, doc.id, { kind: 'group', group: 'Jugendhilfeausschuss Ludwigslust-Parchim' });
  const ctx = await env.browser.newContext(PHONE);
  const problems = [];
  const page = await ctx.newPage();
  watchProblems(page, problems);
  await page.goto(link);

  // The name comes first: a required answer in the page's own words.
  const dialog = page.locator('#name-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await page.locator('#name-dialog-title').textContent(), 'Wie heißen Sie?');
  assert.equal(await page.locator('#name-cancel').isVisible(), false, 'no way around it');
  await page.locator('#name-form button[type=submit]').tap();
  assert.equal(await page.locator('#name-error').textContent(), 'Bitte geben Sie Ihren Namen ein.');
  const longName = 'Maximiliane Mustermann-Lüdenscheidt';
  await page.locator('#name-input').fill(longName);
  await page.locator('#name-form button[type=submit]').tap();
  await waitSynced(page);

  // "Jetzt dabei" is folded above the text on a phone: open it.
  await page.locator('#people-toggle').tap();
  const me = page.locator('#people li', { hasText: `${longName} (Sie)` });
  await me.waitFor();
  assert.equal(await me.isVisible(), true);
  assert.match(await me.textContent(), /Jugendhilfeausschuss/);
  await page.locator('.ProseMirror').tap();
  await page.keyboard.type('Vom Handy aus.');
  await eventually(async () => (await docText(env.server.url, doc.id))?.includes('Vom Handy aus.'), { message: 'the text on the server' });

  // Title, my name and the language menu: all shown, none on top of another; long texts cut.
  await assertHeaderFits(page, ['#doc-title', '#me-button', '#lang-select', '#conn']);
  const cut = (selector) => page.locator(selector).evaluate((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === 'ellipsis');
  assert.equal(await cut('#me-name'), true, 'the long name ends in an ellipsis');
  assert.equal(await cut('#doc-title'), true, 'the long title ends in an ellipsis');
  assert.equal(await page.locator('#me-button').getAttribute('title'), `${longName} (Jugendhilfeausschuss Ludwigslust-Parchim)`);
  assert.equal(await page.locator('#doc-title').getAttribute('title'), doc.title);

  // Tapping my name opens the name dialog; the new name reaches the server and the list.
  await page.locator('#me-button').tap();
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await page.locator('#name-input').inputValue(), longName);
  await page.locator('#name-input').fill('Maxi');
  await page.locator('#name-form button[type=submit]').tap();
  await page.locator('#people li', { hasText: 'Maxi (Sie)' }).waitFor();
  assert.equal(await page.locator('#me-name').textContent(), 'Maxi');
  const { body: invites } = await api(env.server.url, 'GET', `/api/docs/${doc.id}/invites`);
  assert.deepEqual(invites[0].members.map((m) => m.name), ['Maxi']);

  // A moderator on a phone: the header holds the panel button too, and the panel fills the screen.
  const ctxM = await env.browser.newContext(PHONE);
  const mod = await openEditor(ctxM, env.server.url, doc.id, 'Mona Moderatorin', problems, { role: 'moderator' });
  await assertHeaderFits(mod, ['#doc-title', '#me-button', '#lang-select', '#conn', '#people-button']);
  await mod.locator('#people-button').tap();
  const panel = mod.locator('#people-panel');
  await panel.waitFor({ state: 'visible' });
  const box = await panel.boundingBox();
  assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, 390, 844], 'the panel is full screen');
  await panel.getByLabel('Name der Person').fill('Paula');
  await panel.getByRole('button', { name: 'Link erstellen' }).tap();
  await panel.locator('#link-qr').waitFor();
  const qr = await panel.locator('#link-qr').boundingBox();
  assert.ok(qr.x >= 0 && qr.x + qr.width <= 390, 'the QR code fits the screen');
  await panel.locator('li.invite', { hasText: 'Jugendhilfeausschuss' }).locator('.members', { hasText: 'Maxi' }).waitFor();
  await panel.getByRole('button', { name: 'Schließen' }).tap();
  assert.equal(await panel.isVisible(), false);

  assert.deepEqual(problems, []);
  await ctx.close();
  await ctxM.close();
});
