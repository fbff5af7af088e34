// a11y.test.mjs — the pages against axe-core's WCAG 2 A/AA rules: labels, contrast, lang, landmarks, names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { serverAndBrowser, openEditor } from './browser.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const env = serverAndBrowser();

/** axe-core's violations of WCAG 2.0/2.1 A and AA on the page as it is now. */
async function violations(page) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

// axe is injected as a script tag, which the app's CSP rightly forbids: these contexts
// bypass the CSP (the CSP itself is tested in ui.test.mjs).
for (const lang of ['de', 'en']) {
  test(`the start page and the editor have no WCAG A/AA violations (${lang})`, async () => {
    const ctx = await env.browser.newContext({ bypassCSP: true });
    await ctx.addInitScript((l) => localStorage.setItem('leitbild.lang', l), lang);
    const list = await ctx.newPage();
    await list.goto(`${env.server.url}/`);
    await list.locator('#docs-body tr').first().waitFor();
    assert.equal(await list.evaluate(() => document.documentElement.lang), lang);
    assert.deepEqual(await violations(list), [], 'start page');

    const editor = await openEditor(ctx, env.server.url, 'bildungsleitbild', 'Anna');
    assert.deepEqual(await violations(editor), [], 'editor');
    await ctx.close();
  });
}
