// forms.test.mjs — forms speak the page's language, not the browser's: an English browser on the
// German page sees our own messages beside the field (no native validation bubble), titles
// without letters or digits are refused, and the not-found page is centred.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signInAsAdmin, watchProblems } from './browser.mjs';

const env = serverAndBrowser();

/** A context that an English browser would open: locale and Accept-Language en-US. */
const englishBrowser = () => env.browser.newContext({ locale: 'en-US' });

test('the new-document form answers in the page language, beside the field', async () => {
  const ctx = await englishBrowser();
  await signInAsAdmin(ctx, env.server.url);
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  await page.goto(`${env.server.url}/`);
  const form = page.locator('#create-form');
  await form.waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'de', 'the page is German');
  assert.equal(await page.evaluate(() => navigator.language), 'en-US', 'the browser is English');

  // No form leaves validation to the browser, whose messages would be in English.
  assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll('form')].filter((f) => !f.noValidate).map((f) => f.id)), []);

  const input = page.locator('#create-title');
  const error = page.locator('#create-error');
  assert.equal(await input.getAttribute('placeholder'), 'z. B. Leitbild Bildungsregion 2030');

  // Empty: our message, in German, tied to the field.
  await form.locator('button[type=submit]').click();
  await error.waitFor();
  assert.equal(await error.isVisible(), true);
  assert.equal(await error.textContent(), 'Bitte geben Sie einen Titel ein.');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.match(await input.getAttribute('aria-describedby'), /\bcreate-error\b/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'create-title');

  // No letters or digits: refused, and no document is created.
  await input.fill('???');
  await form.locator('button[type=submit]').click();
  assert.equal(await error.textContent(), 'Bitte geben Sie einen Titel mit Buchstaben oder Ziffern ein.');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(new URL(page.url()).pathname, '/');

  // In English, the placeholder and the messages follow.
  await page.getByLabel('Sprache').selectOption('en');
  assert.equal(await input.getAttribute('placeholder'), 'e.g. Leitbild Bildungsregion 2030');
  await form.locator('button[type=submit]').click();
  assert.equal(await error.textContent(), 'Please enter a title with letters or digits.');
  await page.getByLabel('Language').selectOption('de');

  // A real title goes through.
  await input.fill('Leitbild 2030');
  await form.locator('button[type=submit]').click();
  await page.waitForURL(/\/d\//);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('renaming refuses a title without letters or digits', async () => {
  const ctx = await englishBrowser();
  await signInAsAdmin(ctx, env.server.url);
  const page = await ctx.newPage();
  await page.goto(`${env.server.url}/`);
  await page.locator('#docs-body tr', { hasText: 'Bildungsleitbild – Entwurf' }).getByRole('button', { name: /umbenennen/ }).click();
  const input = page.locator('#text-input');
  await input.fill('???');
  await page.locator('#text-save').click();
  assert.equal(await page.locator('#text-error').textContent(), 'Bitte geben Sie einen Titel mit Buchstaben oder Ziffern ein.');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#text-dialog').isVisible(), true, 'the dialog stays open');
  await page.locator('#text-cancel').click();
  await ctx.close();
});

test('the not-found page centres its link under the message', async () => {
  const ctx = await englishBrowser();
  await signInAsAdmin(ctx, env.server.url);
  const page = await ctx.newPage();
  await page.goto(`${env.server.url}/d/does-not-exist-xyz`);
  await page.locator('.notice').waitFor();
  assert.equal(await page.locator('.notice').textContent(), 'Dieses Dokument gibt es nicht.');
  // The boxes of the words themselves, not of the block elements around them.
  const [text, link] = await page.evaluate(() => {
    const box = (node) => {
      const range = document.createRange();
      range.selectNodeContents(node);
      const r = range.getBoundingClientRect();
      return { left: r.left, right: r.right, centre: (r.left + r.right) / 2 };
    };
    return [box(document.querySelector('.notice')), box(document.querySelector('.not-found a'))];
  });
  assert.ok(Math.abs(text.centre - link.centre) <= 3, `message centred at ${text.centre}, link at ${link.centre}`);
  assert.ok(link.left > text.left, 'the link is not at the left edge of the message');
  await ctx.close();
});
