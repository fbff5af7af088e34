// main.js — owns start-up: the language switch, the sign-in message, and choosing the page from location.pathname.
import { lang, setLang, translate } from './i18n.js';
import { showSigninResult } from './access.js';
import { showDocsList } from './docs-list.js';
import { showEditor, showNotFound } from './editor.js';

const page = document.getElementById('page');
const slot = document.getElementById('topbar-slot');
const select = document.getElementById('lang-select');

translate(document);
select.value = lang();
select.addEventListener('change', () => setLang(select.value));
// After a link that did not work the server sends us here with ?signin=why.
showSigninResult(document.getElementById('signin-notice'));

// The service worker keeps the app itself available offline (see sw.js).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker not registered', e));
}

const match = location.pathname.match(/^\/d\/([^/]+)\/?$/);
if (!match) showDocsList(page);
else {
  const docId = decodeDocId(match[1]);
  if (docId === null) showNotFound(page, 'badLink');
  else showEditor(page, slot, docId);
}

/** The document id from its URL segment; null for a malformed escape such as /d/%E0. */
function decodeDocId(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
