// a11y.test.mjs — the pages against axe-core's WCAG 2 A/AA rules: labels, contrast, lang, landmarks, names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { serverAndBrowser, signInAsAdmin, waitSynced } from './browser.mjs';

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
  test(`the start page, the editor and the people panel have no WCAG A/AA violations (${lang})`, async () => {
    const ctx = await env.browser.newContext({ bypassCSP: true });
    await ctx.addInitScript((l) => localStorage.setItem('leitbild.lang', l), lang);

    // Without a session: the page that explains invitation links.
    const stranger = await ctx.newPage();
    await stranger.goto(`${env.server.url}/`);
    await stranger.locator('.explain h1').waitFor();
    assert.deepEqual(await violations(stranger), [], 'page without a session');
    await stranger.close();

    await signInAsAdmin(ctx, env.server.url);
    const list = await ctx.newPage();
    await list.goto(`${env.server.url}/`);
    await list.locator('#docs-body tr').first().waitFor();
    await list.locator('#trash-state').filter({ hasText: /\S/ }).waitFor();
    assert.equal(await list.evaluate(() => document.documentElement.lang), lang);
    assert.deepEqual(await violations(list), [], 'start page (admin)');

    const editor = await ctx.newPage();
    await editor.goto(`${env.server.url}/d/bildungsleitbild`);
    await waitSynced(editor);
    assert.deepEqual(await violations(editor), [], 'editor');

    // The panel with a list, a member, an audit log and a link just made (QR code and all).
    await editor.locator('#people-button').click();
    await editor.locator('#invite-name').fill('Anna Krüger');
    await editor.locator('#invite-form button[type=submit]').click();
    await editor.locator('#link-result').waitFor();
    await editor.locator('#invite-form input[value=group]').check();
    await editor.locator('#invite-group').fill('Kita-Verbund');
    await editor.locator('#invite-max').fill('0');
    await editor.locator('#invite-form button[type=submit]').click();
    assert.equal(await editor.locator('#invite-max').getAttribute('aria-invalid'), 'true', 'a form with a message');
    await editor.locator('#invites li.invite').first().waitFor();
    await editor.locator('#audit li').first().waitFor();
    assert.deepEqual(await violations(editor), [], 'people panel');
    await ctx.close();
  });
}
