// docs-list.js — owns the start page: the documents I may see, and for admins the form that
// creates one, renaming, deleting (into the trash) and the trash with its restore buttons.
import { api, docPath } from './api.js';
import { t, formatDate, formatNumber, onLangChange, translate } from './i18n.js';
import { fetchMe } from './me.js';
import { showNeedInvite, showNoAccess } from './access.js';
import { confirmAction, promptText, chooseBetween } from './dialogs.js';
import { readItem, writeItem } from './storage.js';

// The last list seen online, shown (marked as such) when the server cannot be reached.
const CACHE_KEY = 'leitbild.docsList';
const ROLE_LABELS = { reader: 'roleReader', editor: 'roleEditor', moderator: 'roleModerator', admin: 'roleAdmin' };

function cachedList() {
  try {
    const list = JSON.parse(readItem(CACHE_KEY) ?? 'null');
    return Array.isArray(list) ? list.filter((d) => d && typeof d.id === 'string') : null;
  } catch {
    return null;
  }
}

/** A time from the API (ms since the epoch, or RFC 3339) as ms. */
const toMs = (time) => (typeof time === 'number' ? time : Date.parse(time) || 0);

const errorText = (err) => (err.status === 0 ? t('noConnection') : err.message);

/** What is wrong with a (trimmed) document title, in the page's language, or '' when nothing is. */
function titleProblem(title) {
  if (!title) return t('titleRequired');
  // "???" or "--" names nothing that a list of documents could tell apart.
  if (!/[\p{L}\p{N}]/u.test(title)) return t('titleNoLetters');
  return '';
}

/** Render the start page into `main`: who may see what is the server's answer to /api/me. */
export async function showDocsList(main) {
  const access = await fetchMe(null);
  if (access.denied === 401) {
    showNeedInvite(main);
    return;
  }
  if (access.denied === 403) {
    showNoAccess(main, null, access.error);
    return;
  }
  // Offline, nobody manages anything: the admin parts wait for the server.
  const admin = access.me?.admin === true && !access.offline;

  main.replaceChildren(document.getElementById('tpl-docs').content.cloneNode(true));
  addIntro(main);
  // Bytes meant nothing to people: the column counts words.
  main.querySelector('#docs-table th[data-i18n="colSize"]').dataset.i18n = 'colWords';
  translate(main);
  const state = main.querySelector('#docs-state');
  const table = main.querySelector('#docs-table');
  const body = main.querySelector('#docs-body');
  const actionsHead = main.querySelector('#docs-actions-head');
  const notice = main.querySelector('#docs-error');
  main.querySelector('#create-form').hidden = !admin;
  main.querySelector('#trash').hidden = !admin;
  actionsHead.hidden = !admin;
  let docs = null;
  let stale = false;

  const render = () => {
    if (docs === null) return;
    table.hidden = docs.length === 0;
    if (stale) state.textContent = t('listOffline');
    else if (docs.length === 0) state.textContent = admin ? t('noDocs') : t('noDocsForYou');
    else state.textContent = '';
    body.replaceChildren(...docs.map((doc) => docRow(doc)));
  };

  const docRow = (doc) => {
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
    const editorName = typeof doc.updated_by?.name === 'string' ? doc.updated_by.name : '';
    if (editorName) {
      const by = document.createElement('span');
      by.className = 'updated-by';
      by.textContent = t('updatedBy', { name: editorName });
      updated.append(by);
    }
    const size = document.createElement('td');
    size.className = 'num';
    size.textContent = Number.isFinite(doc.words) ? formatNumber(doc.words) : '';
    const role = document.createElement('td');
    role.textContent = ROLE_LABELS[doc.role] ? t(ROLE_LABELS[doc.role]) : '';
    row.append(title, updated, size, role);
    if (admin) {
      const actions = document.createElement('td');
      actions.className = 'actions';
      actions.append(
        actionButton(t('rename'), t('renameDoc', { title: doc.title }), () => rename(doc)),
        actionButton(t('delete'), t('deleteDoc', { title: doc.title }), () => remove(doc)),
      );
      row.append(actions);
    }
    return row;
  };

  const load = async () => {
    try {
      const list = await api('GET', '/api/docs');
      docs = [...list].sort((a, b) => b.updated_at - a.updated_at);
      stale = false;
      writeItem(CACHE_KEY, JSON.stringify(docs));
      render();
    } catch {
      docs = cachedList();
      stale = docs !== null;
      if (stale) render();
      else state.textContent = t('loadFailed');
    }
  };

  const rename = async (doc) => {
    const title = await promptText({
      title: t('renameTitle'),
      label: t('renameLabel'),
      value: doc.title,
      save: t('renameSave'),
      requiredMessage: t('titleRequired'),
      check: titleProblem,
    });
    if (title === null || title === doc.title) return;
    notice.textContent = '';
    try {
      await api('PATCH', docPath(doc.id), { title });
    } catch (err) {
      notice.textContent = t('renameFailed', { msg: errorText(err) });
    }
    await load();
  };

  const remove = async (doc) => {
    if (!(await confirmAction(t('deleteConfirm', { title: doc.title }), t('deleteYes')))) return;
    notice.textContent = '';
    try {
      await api('DELETE', docPath(doc.id));
    } catch (err) {
      notice.textContent = t('deleteFailed', { msg: errorText(err) });
    }
    await Promise.all([load(), trash.load()]);
  };

  const trash = admin ? wireTrash(main, notice, () => load()) : { load: async () => {} };
  if (admin) wireCreateForm(main, () => docs ?? []);
  onLangChange(render);
  state.textContent = t('loading');
  await Promise.all([load(), trash.load()]);
}

/** A button showing `text`, named `label` for assistive technology (it says which document). */
function actionButton(text, label, run) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = text;
  button.setAttribute('aria-label', label);
  button.addEventListener('click', run);
  return button;
}

/** The trash: deleted documents, when they go for good, and a restore button each. */
function wireTrash(main, notice, reloadList) {
  const state = main.querySelector('#trash-state');
  const table = main.querySelector('#trash-table');
  const body = main.querySelector('#trash-body');
  let docs = null;

  const render = () => {
    if (docs === null) return;
    table.hidden = docs.length === 0;
    state.textContent = docs.length === 0 ? t('trashEmpty') : '';
    body.replaceChildren(
      ...docs.map((doc) => {
        const row = document.createElement('tr');
        const title = document.createElement('td');
        title.textContent = doc.title || doc.id;
        const deleted = document.createElement('td');
        deleted.textContent = formatDate(toMs(doc.deleted_at));
        const purge = document.createElement('td');
        purge.textContent = formatDate(toMs(doc.purge_at));
        const actions = document.createElement('td');
        actions.className = 'actions';
        actions.append(actionButton(t('restore'), t('restoreDoc', { title: doc.title }), () => restore(doc)));
        row.append(title, deleted, purge, actions);
        return row;
      }),
    );
  };

  const restore = async (doc) => {
    notice.textContent = '';
    try {
      await api('POST', docPath(doc.id, '/restore'));
    } catch (err) {
      notice.textContent = t('restoreFailed', { msg: errorText(err) });
    }
    await Promise.all([load(), reloadList()]);
  };

  const load = async () => {
    try {
      const list = await api('GET', '/api/trash');
      docs = Array.isArray(list) ? list : [];
      render();
    } catch (err) {
      state.textContent = t('loadFailed');
    }
  };

  onLangChange(render);
  return { load };
}

/** The start page's explanation: what this is and how people are invited, before the list. */
function addIntro(main) {
  const intro = document.createElement('div');
  intro.className = 'intro';
  for (const key of ['introWhat', 'introInvite']) {
    const p = document.createElement('p');
    p.dataset.i18n = key;
    intro.append(p);
  }
  main.querySelector('#docs-heading').after(intro);
}

/** A title as people compare them: case and surrounding spaces do not make another document. */
const sameTitle = (a, b) => a.trim().toLocaleLowerCase('de') === b.trim().toLocaleLowerCase('de');

/**
 * The form that creates a document and opens it. A title that a listed document (`listed()`)
 * already has is asked about first: the server would silently make a second one ("…-9dba").
 */
function wireCreateForm(main, listed) {
  const form = main.querySelector('#create-form');
  const input = main.querySelector('#create-title');
  const error = main.querySelector('#create-error');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    const problem = titleProblem(title);
    if (problem) {
      error.textContent = problem;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    error.textContent = '';
    input.setAttribute('aria-invalid', 'false');
    const existing = listed().find((doc) => sameTitle(doc.title ?? '', title));
    if (existing) {
      const answer = await chooseBetween(t('duplicateTitle', { title: existing.title }), t('duplicateOpen'), t('duplicateCreate'));
      if (answer === 'first') {
        location.assign(`/d/${encodeURIComponent(existing.id)}`);
        return;
      }
      if (answer !== 'second') {
        input.focus();
        return;
      }
    }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const doc = await api('POST', '/api/docs', { title });
      if (!doc?.id) throw new Error('no id');
      location.assign(`/d/${encodeURIComponent(doc.id)}`);
    } catch (err) {
      error.textContent = t('createFailed', { msg: errorText(err) });
      button.disabled = false;
      input.focus();
    }
  });
}
