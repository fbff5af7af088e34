// adopt-dialog.js — owns adopting a version for the public archive (moderators): the dialog with
// title, adopting body, date of the decision and an optional note, checked in the page's own
// language; the request, sent with one Idempotency-Key per submission (the same key when the same
// submission is sent again, so a retry after a lost answer never archives a text twice); the
// server's refusals in plain words; and the confirmation with a link to the archived text. Also
// how an archive entry is named elsewhere ("Beschlossene Fassung 1 (29.09.2026)"). The dialog is
// built here, once, and appended to <body>; the server decides who may adopt.
import { api, docPath } from './api.js';
import { t, onLangChange, translate, formatDay } from './i18n.js';

/** The server's limits (server/src/archive/entry.rs). */
const MAX_TITLE = 300;
const MAX_BODY = 300;
const MAX_NOTE = 4000;
/** Adopting freezes and hashes the whole text: give the server longer than for an ordinary request. */
const ADOPT_TIMEOUT_MS = 30_000;

/** Whether `e` is an archive entry as the app uses it. */
export const isEntry = (e) =>
  e && typeof e === 'object' && typeof e.id === 'string' && Number.isSafeInteger(e.edition) && typeof e.decided_on === 'string';

/** The address of an entry's public page. */
export const entryHref = (entry) => `/archive/${encodeURIComponent(entry.id)}`;

/** A `YYYY-MM-DD` day in the page's language ("29.09.2026"); anything else as it is. */
export function formatDecided(day) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day ?? '');
  if (!match) return String(day ?? '');
  return formatDay(new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])).getTime());
}

/** An entry in words: "Beschlossene Fassung 1 (29.09.2026)". */
export const editionLabel = (entry) => t('pointEdition', { n: entry.edition, date: formatDecided(entry.decided_on) });

const pad = (n) => String(n).padStart(2, '0');
const today = () => {
  const now = new Date();
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
};

/** A real calendar day: `YYYY-MM-DD` from a date field, or `TT.MM.JJJJ` typed where a browser has no date field. */
function dayOf(value) {
  const text = value.trim();
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const german = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(text);
  const [y, m, d] = iso ? [iso[1], iso[2], iso[3]].map(Number) : german ? [german[3], german[2], german[1]].map(Number) : [];
  if (!y) return null;
  const date = new Date(y, m - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) return null;
  return `${String(y).padStart(4, '0')}-${pad(m)}-${pad(d)}`;
}

/** A random key for one submission (crypto.randomUUID needs a secure context; this does not). */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The last submission that got no final answer (no connection, the server failing, too busy):
 * sent again unchanged, it goes with the same key, even after the dialog was closed and reopened.
 */
let unanswered = null;

const el = (tag, attrs = {}, children = []) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
};

/** A labelled field with its own message below it. */
function field(id, labelKey, control) {
  control.id = id;
  control.setAttribute('aria-describedby', `${id}-error`);
  return el('div', { class: 'field' }, [
    el('label', { for: id, 'data-i18n': labelKey }),
    control,
    el('p', { class: 'field-error', id: `${id}-error` }),
  ]);
}

let built = null;

/** The dialog, built on first use. */
function dialog() {
  if (built) return built;
  const title = el('input', { type: 'text', maxlength: String(MAX_TITLE), autocomplete: 'off', 'aria-required': 'true' });
  const body = el('input', { type: 'text', maxlength: String(MAX_BODY), autocomplete: 'off', 'aria-required': 'true' });
  const date = el('input', { type: 'date', 'aria-required': 'true' });
  const note = el('textarea', { rows: '3', maxlength: String(MAX_NOTE) });
  const form = el('form', { id: 'adopt-form', novalidate: '' }, [
    el('h2', { id: 'adopt-dialog-title' }),
    el('p', { class: 'hint', id: 'adopt-hint', 'data-i18n': 'adoptHint' }),
    field('adopt-title', 'adoptTitle', title),
    field('adopt-body', 'adoptBody', body),
    field('adopt-date', 'adoptDate', date),
    field('adopt-note', 'adoptNote', note),
    el('p', { class: 'form-error', id: 'adopt-error', role: 'alert' }),
    el('p', { class: 'hint', id: 'adopt-state', role: 'status' }),
    el('div', { class: 'dialog-actions' }, [
      el('button', { type: 'button', id: 'adopt-cancel', 'data-i18n': 'cancel' }),
      el('button', { type: 'submit', class: 'primary', id: 'adopt-submit', 'data-i18n': 'adoptSave' }),
    ]),
  ]);
  const done = el('div', { id: 'adopt-done', hidden: '' }, [
    el('h2', { id: 'adopt-done-title', tabindex: '-1', 'data-i18n': 'adoptDoneTitle' }),
    el('p', { id: 'adopt-done-text' }),
    el('p', {}, [el('a', { id: 'adopt-done-link', 'data-i18n': 'adoptView' })]),
    el('div', { class: 'dialog-actions' }, [el('button', { type: 'button', id: 'adopt-done-close', 'data-i18n': 'close' })]),
  ]);
  // What adopting means is said as the dialog opens.
  const node = el('dialog', { id: 'adopt-dialog', class: 'adopt-dialog', 'aria-labelledby': 'adopt-dialog-title', 'aria-describedby': 'adopt-hint' }, [form, done]);
  document.body.append(node);
  // The placeholder is no label, and it follows the language.
  const relabel = () => {
    translate(node);
    body.placeholder = t('adoptBodyPlaceholder');
  };
  onLangChange(relabel);
  relabel();
  built = { node, form, done, title, body, date, note };
  return built;
}

/**
 * Ask to adopt `version` of document `docId`, the title prefilled with `docTitle`. `onAdopted`
 * gets the new archive entry as soon as the server has it; the promise resolves with it (or null
 * when nothing was adopted) once the dialog is closed.
 */
export function adoptVersion({ docId, version, docTitle, onAdopted = () => {} }) {
  const { node, form, done, title, body, date, note } = dialog();
  const $ = (id) => node.querySelector(`#${id}`);
  const error = $('adopt-error');
  const state = $('adopt-state');
  const submit = $('adopt-submit');
  const cancel = $('adopt-cancel');
  const fields = { title, adopted_by: body, decided_on: date, note };
  const path = docPath(docId, `/versions/${encodeURIComponent(version.id)}/adopt`);

  const fieldError = (input, text) => {
    $(`${input.id}-error`).textContent = text;
    input.setAttribute('aria-invalid', text ? 'true' : 'false');
  };
  const clearErrors = () => {
    for (const input of Object.values(fields)) fieldError(input, '');
    error.textContent = '';
    state.textContent = '';
  };

  const heading = () => {
    $('adopt-dialog-title').textContent = t('adoptDialogTitle', { name: version.name });
  };
  heading();
  title.value = (docTitle ?? '').trim().slice(0, MAX_TITLE);
  body.value = '';
  date.value = today();
  note.value = '';
  clearErrors();
  form.hidden = false;
  done.hidden = true;
  node.setAttribute('aria-labelledby', 'adopt-dialog-title');
  node.setAttribute('aria-describedby', 'adopt-hint');

  let entry = null;
  let sending = false;

  /** The request body, or null after marking what is missing or wrong (the first such field gets the focus). */
  const checked = () => {
    clearErrors();
    const problems = [];
    const wanted = { title: title.value.trim(), adopted_by: body.value.trim(), decided_on: dayOf(date.value) };
    if (!wanted.title) problems.push([title, t('adoptTitleRequired')]);
    if (!wanted.adopted_by) problems.push([body, t('adoptBodyRequired')]);
    // A date field holds '' both when empty and when half filled in.
    if (!wanted.decided_on) problems.push([date, t(date.value.trim() || date.validity?.badInput ? 'adoptDateInvalid' : 'adoptDateRequired')]);
    for (const [input, text] of problems) fieldError(input, text);
    if (problems.length > 0) {
      problems[0][0].focus();
      return null;
    }
    const text = note.value.trim();
    if (text) wanted.note = text;
    return wanted;
  };

  /** A refusal from the server, on the field it concerns when it names one. */
  const refused = (err) => {
    if (err.status === 400) {
      const [, name, rest = ''] = /^(title|adopted_by|decided_on|note)\b(.*)$/.exec(err.message) ?? [];
      const input = fields[name];
      const required = { title: 'adoptTitleRequired', adopted_by: 'adoptBodyRequired' }[name];
      let text = null;
      if (name === 'decided_on') text = t('adoptDateInvalid');
      else if (/empty/.test(rest) && required) text = t(required);
      else if (/too long/.test(rest)) text = t('adoptTooLong', { max: /at most (\d+)/.exec(rest)?.[1] ?? '' });
      else if (/one line|control/.test(rest)) text = t('adoptOneLine');
      if (input && text) {
        fieldError(input, text);
        error.textContent = t('adoptCheck');
        input.focus();
        return;
      }
      // A version the server does not know (any more) is refused as a bad request.
      error.textContent = /^unknown version/.test(err.message) ? t('adoptNotFound') : t('adoptRejected', { msg: err.message });
      return;
    }
    const key = {
      0: 'adoptNoAnswer',
      401: 'adoptSignedOut',
      403: 'adoptForbidden',
      404: 'adoptNotFound',
      410: 'adoptGone',
      429: 'adoptBusy',
    }[err.status];
    if (key) error.textContent = t(key);
    else if (err.status >= 500) error.textContent = t('adoptServerFailed');
    else error.textContent = t('adoptFailed', { msg: err.message });
  };

  const doneText = () => {
    $('adopt-done-text').textContent = t('adoptDone', {
      title: entry.title,
      date: formatDecided(entry.decided_on),
      edition: entry.edition,
    });
  };
  const showDone = () => {
    doneText();
    $('adopt-done-link').href = entryHref(entry);
    form.hidden = true;
    done.hidden = false;
    node.setAttribute('aria-labelledby', 'adopt-done-title');
    node.setAttribute('aria-describedby', 'adopt-done-text');
    $('adopt-done-title').focus();
  };

  return new Promise((resolve) => {
    const onSubmit = async (event) => {
      event.preventDefault();
      if (sending) return;
      const wanted = checked();
      if (!wanted) return;
      const sent = JSON.stringify(wanted);
      if (!unanswered || unanswered.path !== path || unanswered.sent !== sent) unanswered = { path, sent, key: newKey() };
      const { key } = unanswered;
      // Until the answer is in, the dialog stays: closing it would hide what became of the submission.
      sending = true;
      submit.disabled = true;
      cancel.disabled = true;
      state.textContent = t('adoptSending');
      try {
        const answer = await api('POST', path, wanted, { timeout: ADOPT_TIMEOUT_MS, headers: { 'Idempotency-Key': key } });
        unanswered = null;
        if (!isEntry(answer)) throw new Error('not an archive entry');
        entry = answer;
        onAdopted(entry);
        if (node.open) showDone();
      } catch (err) {
        // Only a submission without a final answer keeps its key for the next try.
        const final = err.status !== undefined && err.status !== 0 && err.status !== 429 && err.status < 500;
        if (final && unanswered?.key === key) unanswered = null;
        if (err.status === undefined) error.textContent = t('adoptFailed', { msg: err.message });
        else refused(err);
      } finally {
        sending = false;
        submit.disabled = false;
        cancel.disabled = false;
        state.textContent = '';
      }
    };
    const onCancelEvent = (event) => {
      if (sending) event.preventDefault();
    };
    const finish = () => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', finish);
      $('adopt-done-close').removeEventListener('click', finish);
      node.removeEventListener('cancel', onCancelEvent);
      node.removeEventListener('close', finish);
      stopHeading();
      if (node.open) node.close();
      resolve(entry);
    };
    const stopHeading = onLangChange(() => {
      heading();
      if (entry) doneText();
    });
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', finish);
    $('adopt-done-close').addEventListener('click', finish);
    node.addEventListener('cancel', onCancelEvent);
    node.addEventListener('close', finish);
    node.showModal();
    body.focus();
  });
}
