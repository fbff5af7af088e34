// docs-list.js — owns the start page: the list of documents and the form that creates one.
import { t, formatDate, formatSize, onLangChange, translate } from './i18n.js';
import { readItem, writeItem } from './storage.js';

// The last list seen online, shown (marked as such) when the server cannot be reached.
const CACHE_KEY = 'leitbild.docsList';

function cachedList() {
  try {
    const list = JSON.parse(readItem(CACHE_KEY) ?? 'null');
    return Array.isArray(list) ? list.filter((d) => d && typeof d.id === 'string') : null;
  } catch {
    return null;
  }
}

/** Render the document list into `main` and wire the create form. */
export function showDocsList(main) {
  main.replaceChildren(document.getElementById('tpl-docs').content.cloneNode(true));
  translate(main);
  const state = main.querySelector('#docs-state');
  const table = main.querySelector('#docs-table');
  const body = main.querySelector('#docs-body');
  const form = main.querySelector('#create-form');
  const input = main.querySelector('#create-title');
  const error = main.querySelector('#create-error');
  let docs = null;
  let stale = false;

  const render = () => {
    if (docs === null) return;
    table.hidden = docs.length === 0;
    state.textContent = stale ? t('listOffline') : docs.length === 0 ? t('noDocs') : '';
    body.replaceChildren(
      ...docs.map((doc) => {
        const row = document.createElement('tr');
        const title = document.createElement('td');
        const link = document.createElement('a');
        link.href = `/d/${encodeURIComponent(doc.id)}`;
        link.textContent = doc.title || doc.id;
        title.append(link);
        const updated = document.createElement('td');
        const time = document.createElement('time');
        time.dateTime = new Date(doc.updated_at).toISOString();
        time.textContent = formatDate(doc.updated_at);
        updated.append(time);
        const size = document.createElement('td');
        size.className = 'num';
        size.textContent = formatSize(doc.size);
        row.append(title, updated, size);
        return row;
      }),
    );
  };

  onLangChange(render);
  state.textContent = t('loading');
  fetch('/api/docs', { headers: { Accept: 'application/json' } })
    .then((res) => (res.ok ? res.json() : Promise.reject(new Error(res.statusText))))
    .then((list) => {
      docs = [...list].sort((a, b) => b.updated_at - a.updated_at);
      writeItem(CACHE_KEY, JSON.stringify(docs));
      render();
    })
    .catch(() => {
      docs = cachedList();
      stale = docs !== null;
      if (stale) render();
      else state.textContent = t('loadFailed');
    });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) {
      error.textContent = t('titleRequired');
      input.focus();
      return;
    }
    error.textContent = '';
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const res = await fetch('/api/docs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ title }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok || !body.id) throw new Error(body.error || `HTTP ${res.status}`);
      location.assign(`/d/${encodeURIComponent(body.id)}`);
    } catch (err) {
      error.textContent = t('createFailed', { msg: err.message });
      button.disabled = false;
      input.focus();
    }
  });
}
