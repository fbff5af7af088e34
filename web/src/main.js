// main.js — owns start-up: the language switch, and choosing the page from location.pathname.
import { lang, setLang, translate } from './i18n.js';
import { showDocsList } from './docs-list.js';
import { showEditor, showNotFound } from './editor.js';

const main = document.getElementById('main');
const slot = document.getElementById('topbar-slot');
const select = document.getElementById('lang-select');

translate(document);
select.value = lang();
select.addEventListener('change', () => setLang(select.value));

// The service worker keeps the app itself available offline (see sw.js).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker not registered', e));
}

const match = location.pathname.match(/^\/d\/([^/]+)\/?$/);
if (!match) showDocsList(main);
else {
  const docId = decodeDocId(match[1]);
  if (docId === null) showNotFound(main, 'badLink');
  else showEditor(main, slot, docId);
}

/** The document id from its URL segment; null for a malformed escape such as /d/%E0. */
function decodeDocId(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
