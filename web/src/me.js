// me.js — owns who I am: the server's answer to /api/me (cached per document for offline use), my
// name (the name dialog and PATCH /api/me) and my colour, which stays a choice of this browser.
// The server decides names: it writes them into everything others see, so nothing here may invent one.
import { api, ApiError } from './api.js';
import { t } from './i18n.js';
import { readItem, writeItem, readObject, writeObject } from './storage.js';

const CACHE_KEY = 'leitbild.me';
const COLOR_KEY = 'leitbild.color';
const TIMEOUT_MS = 3000;
// The server's limit (server/src/access/identity.rs, MAX_NAME).
export const MAX_NAME = 80;
// Dark enough that white label text on them meets WCAG AA (≥ 4.5:1).
export const PALETTE = ['#b3261e', '#1a5fb4', '#26734d', '#6a1b9a', '#a13d00', '#00695c', '#ad1457', '#4527a0'];
export const ROLES = ['reader', 'editor', 'moderator', 'admin'];

/** The `Me` fields the app uses, checked; null when `data` is not a usable answer. */
function normalize(data) {
  if (!data || typeof data !== 'object' || typeof data.name !== 'string' || !ROLES.includes(data.role)) return null;
  return {
    name: data.name,
    group: typeof data.group === 'string' && data.group ? data.group : null,
    role: data.role,
    admin: data.admin === true,
    needsName: data.needs_name === true,
  };
}

/**
 * Who I am for document `docId` (null: for the start page), as `{ me, offline }`, or
 * `{ denied: 401|403, error }` when the server says I have no session or no access. When the
 * server cannot be reached (or answers with an error of its own), the last answer seen for this
 * document is used, marked `offline`; `me` is null when there never was one.
 */
export async function fetchMe(docId) {
  const key = docId ?? '';
  const cached = normalize(readObject(CACHE_KEY)[key]);
  if (!navigator.onLine) return { me: cached, offline: true };
  const path = docId === null ? '/api/me' : `/api/me?doc=${encodeURIComponent(docId)}`;
  try {
    const me = normalize(await api('GET', path, undefined, { timeout: TIMEOUT_MS }));
    if (me === null) throw new ApiError(0, 'unexpected answer');
    remember(key, me);
    return { me, offline: false };
  } catch (err) {
    if (err.status === 401 || err.status === 403) return { denied: err.status, error: err.message };
    return { me: cached, offline: true };
  }
}

function remember(key, me) {
  writeObject(CACHE_KEY, { ...readObject(CACHE_KEY), [key]: { name: me.name, group: me.group, role: me.role, admin: me.admin } });
}

/** My caret colour: picked at random on first use and remembered in this browser. */
export function loadColor() {
  let color = readItem(COLOR_KEY);
  if (!PALETTE.includes(color)) {
    color = PALETTE[Math.floor(Math.random() * PALETTE.length)];
    writeItem(COLOR_KEY, color);
  }
  return color;
}

/**
 * Ask for my name in the modal dialog (prefilled with `current`) and save it on the server for
 * document `docId`. Resolves with the updated `Me`, or null when cancelled. `required` (a new
 * member of a group link): there is no way out but giving a name.
 */
export function chooseName(docId, current, { required }) {
  const dialog = document.getElementById('name-dialog');
  const form = document.getElementById('name-form');
  const input = document.getElementById('name-input');
  const error = document.getElementById('name-error');
  const cancel = document.getElementById('name-cancel');
  const submit = form.querySelector('button[type=submit]');
  input.value = current;
  cancel.hidden = required;
  // "Weiter" on the way in, "Speichern" when changing the name later.
  submit.dataset.i18n = required ? 'nameSave' : 'renameSave';
  submit.textContent = t(submit.dataset.i18n);
  const showError = (text) => {
    error.textContent = text;
    input.setAttribute('aria-invalid', text ? 'true' : 'false');
  };
  showError('');

  return new Promise((resolve) => {
    let done = false;
    const finish = (me) => {
      done = true;
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      dialog.removeEventListener('close', onClose);
      cancel.removeEventListener('click', onCancelClick);
      if (dialog.open) dialog.close();
      resolve(me);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        showError(t('nameRequired'));
        input.focus();
        return;
      }
      showError('');
      submit.disabled = true;
      try {
        const body = docId === null ? { name } : { name, doc: docId };
        const me = normalize(await api('PATCH', '/api/me', body));
        if (me === null) throw new ApiError(0, 'unexpected answer');
        if (docId !== null) remember(docId, me);
        finish(me);
      } catch (err) {
        showError(t('nameFailed', { msg: err.status === 0 ? t('noConnection') : err.message }));
        input.focus();
      } finally {
        submit.disabled = false;
      }
    };
    const onCancel = (event) => {
      event.preventDefault();
      if (!required) finish(null);
    };
    const onCancelClick = () => finish(null);
    // Some browsers close a dialog on a second Escape whatever the page says: a required name is asked again.
    const onClose = () => {
      if (done) return;
      if (required) dialog.showModal();
      else finish(null);
    };
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    dialog.addEventListener('close', onClose);
    cancel.addEventListener('click', onCancelClick);
    dialog.showModal();
    input.select();
  });
}
