// strings.test.mjs — the UI strings themselves, without a browser: German addresses people
// formally ("Sie", as public administration does), avoids unusual words, and English has every key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// LEITBILD_I18N points the test at another copy of the table (e.g. an old one, to see it fail).
const file = process.env.LEITBILD_I18N ?? path.resolve(here, '../../web/src/i18n.js');
// i18n.js reads localStorage through storage.js, which copes with its absence under node.
const { STRINGS } = await import(pathToFileURL(file).href);

// Informal address, whole words, in any case ("Du", "dein", "Deine" …). "Ihr"/"ihr" is left out:
// capitalised it is the formal "Your", and lowercase it is also "her"/"their".
const INFORMAL = /(?<![\p{L}\p{N}])(du|dich|dir|dein|deine|deinen|deinem|deiner|deines|euch|euer|eure)(?![\p{L}\p{N}])/iu;

test('German strings address people formally', () => {
  const informal = Object.entries(STRINGS.de).filter(([, text]) => INFORMAL.test(text));
  assert.deepEqual(informal, [], 'strings with "du", "dein", "euch" …');
});

test('German strings say "Cursor", not "Schreibmarke"', () => {
  const odd = Object.entries(STRINGS.de).filter(([, text]) => /schreibmarke/i.test(text));
  assert.deepEqual(odd, []);
});

test('German and English have the same keys', () => {
  const de = Object.keys(STRINGS.de).sort();
  const en = Object.keys(STRINGS.en).sort();
  assert.deepEqual(de.filter((k) => !en.includes(k)), [], 'German keys missing in English');
  assert.deepEqual(en.filter((k) => !de.includes(k)), [], 'English keys missing in German');
});

test('the informal-address check catches what it should, and only that', () => {
  for (const text of ['Wie heißt du?', '(du)', 'Dein Name', 'neben deiner Schreibmarke', 'Habt ihr euch angemeldet?', 'DU']) {
    assert.ok(INFORMAL.test(text), text);
  }
  for (const text of ['Wie heißen Sie?', 'Ihr Name', 'dunkel', 'Dienst', 'Direktor', 'Duplikat']) {
    assert.ok(!INFORMAL.test(text), text);
  }
});
