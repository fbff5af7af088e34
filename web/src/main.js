// main.js — owns start-up: the language switch, and choosing the page from location.pathname.
import { lang, setLang, translate } from './i18n.js';
import { showDocsList } from './docs-list.js';
import { showEditor } from './editor.js';

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
if (match) showEditor(main, slot, decodeURIComponent(match[1]));
else showDocsList(main);
