// history-panel.js — owns the history panel beside the editor (a full-screen sheet on small
// screens): the versions (named ones first, automatic ones folded away), the document's adopted
// editions in the public archive, comparing two points (drawn by diff-view.js), the timeline with
// a read-only preview of the text at any moment, and who wrote what (blame-view.js); for
// moderators also naming, restoring and adopting versions (adopt-dialog.js). The server decides
// who may do what. Text from the server is only ever set as text; only the server's
// rendered HTML of a text is shown as HTML, copied through rendered-html.js.
import { api, docPath } from './api.js';
import { t, onLangChange, formatDate, formatDateSeconds, formatNumber, translate } from './i18n.js';
import { confirmAction } from './dialogs.js';
import { adoptVersion, editionLabel, entryHref, isEntry } from './adopt-dialog.js';
import { renderDiff, renderSummary } from './diff-view.js';
import { renderBlame } from './blame-view.js';
import { renderedHtml } from './rendered-html.js';

/** Positions of the timeline slider between the document's creation and now. */
const STEPS = 1000;
/** The preview waits for the slider to rest this long, so dragging does not send a request per pixel. */
const PREVIEW_DELAY_MS = 300;
/** Authorship follows the text this long after the last change. */
const BLAME_DELAY_MS = 1500;
/** While the panel is open, the versions and adopted editions others made appear after at most this long. */
const LIST_POLL_MS = 10_000;
/** A timeline shorter than this shows its moments to the second. */
const SECONDS_BELOW_MS = 2 * 24 * 3600 * 1000;
/** Below this width the panel covers the screen (as in style.css). */
const SHEET_QUERY = '(max-width: 56rem)';
/** The server's limits (server/src/http/history.rs). */
const MAX_VERSION_NAME = 200;
const MAX_VERSION_NOTE = 2000;

const KIND_LABELS = { auto: 'versionKindAuto', restore: 'versionKindRestore' };

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

const errorText = (err) => (err.status === 0 ? t('noConnection') : err.message);

/** Whether `v` is a version as the app uses it. */
const isVersion = (v) =>
  v && typeof v === 'object' && typeof v.id === 'string' && typeof v.name === 'string' && Number.isFinite(v.created_at);

/**
 * Wire the history button in `slot` to the panel in `main` for document `docId`, created at
 * `createdAt` (ms; null when unknown, which turns the timeline off). `canManage`: the caller may
 * name, restore and adopt versions. `ydoc` tells when the text changes; `blockKinds()` gives the
 * editor's blocks as `{kind, text}` for the authorship view.
 */
export function wireHistory({ slot, main, docId, createdAt, canManage, ydoc, blockKinds }) {
  const button = slot.querySelector('#history-button');
  const panel = main.querySelector('#history-panel');
  const layout = main.querySelector('.editor-layout');
  const $ = (selector) => panel.querySelector(selector);
  const sheet = window.matchMedia(SHEET_QUERY);
  const slider = $('#timeline');
  const fromSelect = $('#compare-from');
  const toSelect = $('#compare-to');
  const blameToggle = $('#blame-toggle');

  let versions = null;
  let versionsError = null;
  // This document's entries in the archive, newest first.
  let editions = [];
  let editionsError = null;
  // The timeline runs from the creation to the moment the panel was opened.
  const span = { start: Number.isSafeInteger(createdAt) ? createdAt : null, end: Date.now() };
  let preview = null;
  let previewSeq = 0;
  let previewTimer = null;
  let diff = null;
  let diffSeq = 0;
  let blame = null;
  let blameSeq = 0;
  let blameTimer = null;

  // --- Opening and closing -------------------------------------------------------------

  // As a full-screen sheet the panel is all there is: what it covers can be neither read nor reached.
  const cover = () => {
    const covering = !panel.hidden && sheet.matches;
    const covered = [
      document.querySelector('.skip-link'),
      document.querySelector('.topbar'),
      document.querySelector('#signin-notice'),
      main.querySelector('.editor-column'),
      main.querySelector('.presence'),
    ];
    for (const node of covered) if (node) node.inert = covering;
    document.body.classList.toggle('sheet-open', covering);
  };
  const setOpen = (open) => {
    panel.hidden = !open;
    layout.classList.toggle('history-open', open);
    button.setAttribute('aria-expanded', String(open));
    cover();
  };
  // Versions and editions others make (or the server takes after a pause) appear while open.
  let listPoll = null;
  const open = () => {
    span.end = Date.now();
    setOpen(true);
    $('#history-title').focus();
    renderTimeline();
    loadVersions();
    loadEditions();
    if (blameToggle.checked) loadBlame();
    clearInterval(listPoll);
    listPoll = setInterval(() => {
      loadVersions({ quiet: true });
      loadEditions({ quiet: true });
    }, LIST_POLL_MS);
  };
  const close = () => {
    clearInterval(listPoll);
    setOpen(false);
    button.focus();
  };
  button.hidden = false;
  button.addEventListener('click', () => (panel.hidden ? open() : close()));
  $('#history-close').addEventListener('click', close);
  panel.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || event.defaultPrevented) return;
    event.preventDefault();
    close();
  });
  sheet.addEventListener('change', cover);

  // --- Versions ----------------------------------------------------------------------------

  /** Tell what became of an action, with a `link` ({text, href}) to follow up when given. */
  const say = (text, link) => {
    const status = $('#versions-status');
    status.replaceChildren(text);
    if (link) {
      const a = el('a', '', link.text);
      a.href = link.href;
      status.append(' ', a);
    }
  };

  /** Fetch the versions and draw them; `quiet` (a poll) draws only when something changed and keeps an error to itself. */
  const loadVersions = async ({ quiet = false } = {}) => {
    try {
      const list = await api('GET', docPath(docId, '/versions'));
      const fresh = Array.isArray(list) ? list.filter(isVersion).sort((a, b) => b.created_at - a.created_at) : [];
      if (quiet && versionsError === null && JSON.stringify(fresh) === JSON.stringify(versions)) return;
      versions = fresh;
      versionsError = null;
    } catch (err) {
      if (quiet) return;
      versionsError = errorText(err);
    }
    renderVersions();
    renderPoints();
    renderTicks();
  };

  const versionById = (id) => (versions ?? []).find((v) => v.id === id) ?? null;

  const actionButton = (action, text, label, run) => {
    const node = el('button', '', text);
    node.type = 'button';
    node.dataset.action = action;
    node.setAttribute('aria-label', label);
    node.addEventListener('click', run);
    return node;
  };

  const versionItem = (version) => {
    const item = el('li', 'version');
    item.dataset.versionId = version.id;
    item.dataset.kind = version.kind;
    const head = el('p', 'version-head');
    head.append(el('strong', 'version-name', version.name));
    if (KIND_LABELS[version.kind]) head.append(' ', el('span', 'badge', t(KIND_LABELS[version.kind])));
    const meta = el('p', 'version-meta');
    const time = el('time', '', formatDate(version.created_at));
    time.dateTime = new Date(version.created_at).toISOString();
    meta.append(time);
    if (typeof version.created_by_name === 'string' && version.created_by_name) meta.append(` · ${version.created_by_name}`);
    item.append(head, meta);
    if (typeof version.note === 'string' && version.note) item.append(el('p', 'version-note', version.note));
    for (const entry of editions.filter((e) => e.version === version.id)) {
      head.append(' ', el('span', 'badge badge-adopted', t('versionAdoptedBadge', { n: entry.edition })));
    }
    const name = version.name;
    const actions = el('div', 'version-actions');
    actions.append(
      actionButton('show', t('versionShow'), t('versionShowLabel', { name }), () => showVersion(version)),
      actionButton('compare', t('versionCompare'), t('versionCompareLabel', { name }), () => compareWith(version)),
    );
    if (canManage) {
      actions.append(
        actionButton('restore', t('versionRestore'), t('versionRestoreLabel', { name }), () => restore(version)),
        actionButton('adopt', t('versionAdopt'), t('versionAdoptLabel', { name }), () => adopt(version)),
      );
    }
    item.append(actions);
    return item;
  };

  const renderVersions = () => {
    // Lists are drawn anew: the focus goes back to the same button of the same version.
    const focused = document.activeElement?.closest?.('.version [data-action]');
    const keep = focused && panel.contains(focused) ? [focused.closest('.version').dataset.versionId, focused.dataset.action] : null;

    const named = (versions ?? []).filter((v) => v.kind !== 'auto');
    const auto = (versions ?? []).filter((v) => v.kind === 'auto');
    const state = $('#versions-state');
    if (versionsError !== null) state.textContent = t('versionsFailed', { msg: versionsError });
    else if (versions === null) state.textContent = t('loading');
    else state.textContent = named.length === 0 ? t('versionsEmpty') : '';
    $('#versions').replaceChildren(...named.map(versionItem));
    $('#auto-field').hidden = auto.length === 0;
    $('#auto-count').textContent = `(${formatNumber(auto.length)})`;
    $('#auto-versions').hidden = !$('#auto-toggle').checked || auto.length === 0;
    $('#auto-versions').replaceChildren(...auto.map(versionItem));

    if (keep) {
      const selector = `.version[data-version-id="${CSS.escape(keep[0])}"] [data-action="${keep[1]}"]`;
      (panel.querySelector(selector) ?? $('#history-title')).focus();
    }
  };
  $('#auto-toggle').addEventListener('change', renderVersions);

  // --- Naming a version (moderators) ------------------------------------------------------

  const nameVersion = () => {
    const dialog = document.getElementById('version-dialog');
    const form = document.getElementById('version-form');
    const name = document.getElementById('version-name');
    const note = document.getElementById('version-note');
    const error = document.getElementById('version-error');
    const cancel = document.getElementById('version-cancel');
    const submit = form.querySelector('button[type=submit]');
    const showError = (text) => {
      error.textContent = text;
      name.setAttribute('aria-invalid', text && !name.value.trim() ? 'true' : 'false');
    };
    name.value = '';
    note.value = '';
    showError('');
    const finish = () => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      $('#version-new').focus();
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      const body = { name: name.value.trim().slice(0, MAX_VERSION_NAME) };
      if (!body.name) {
        showError(t('versionNameRequired'));
        name.focus();
        return;
      }
      const text = note.value.trim().slice(0, MAX_VERSION_NOTE);
      if (text) body.note = text;
      submit.disabled = true;
      try {
        const created = await api('POST', docPath(docId, '/versions'), body);
        finish();
        say(t('versionSaved', { name: isVersion(created) ? created.name : body.name }));
        await loadVersions();
      } catch (err) {
        showError(t('versionFailed', { msg: errorText(err) }));
      } finally {
        submit.disabled = false;
      }
    };
    const onCancel = () => finish();
    const onClose = () => finish();
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);
    translate(dialog);
    dialog.showModal();
    name.focus();
  };
  if (canManage) {
    $('#version-new').hidden = false;
    $('#version-new').addEventListener('click', nameVersion);
  }

  // --- Restoring a version (moderators) ---------------------------------------------------

  const restore = async (version) => {
    if (!(await confirmAction(t('restoreVersionConfirm', { name: version.name }), t('restoreVersionYes')))) return;
    say('');
    try {
      const result = await api('POST', docPath(docId, `/versions/${encodeURIComponent(version.id)}/restore`));
      if (result?.changed) say(t('restoreDone', { name: version.name }));
      // Nothing to change: the server says so in its own words.
      else say(typeof result?.message === 'string' && result.message ? result.message : t('restoreUnchanged'));
    } catch (err) {
      say(t('restoreVersionFailed', { msg: errorText(err) }));
    }
    await loadVersions();
  };

  // --- Adopted editions: the archive (adopting: moderators) ---------------------------------

  // The panel's markup (index.html) predates the archive: its part is added here.
  const editionsHeading = el('h4', '', t('editionsHeading'));
  editionsHeading.id = 'editions-heading';
  const editionsList = el('ul', 'editions');
  editionsList.id = 'editions';
  editionsList.setAttribute('aria-labelledby', 'editions-heading');
  const editionsState = el('p', 'docs-state');
  editionsState.id = 'editions-state';
  const archiveNote = el('p', 'archive-note');
  $('#auto-versions').after(editionsHeading, editionsList, editionsState, archiveNote);

  const renderEditions = () => {
    editionsHeading.textContent = t('editionsHeading');
    editionsHeading.hidden = editions.length === 0;
    editionsList.hidden = editions.length === 0;
    editionsList.replaceChildren(
      ...editions.map((entry) => {
        const item = el('li', 'edition');
        item.dataset.entryId = entry.id;
        const link = el('a', '', editionLabel(entry));
        link.href = entryHref(entry);
        item.append(link);
        const about = [entry.title, entry.adopted_by].filter((part) => typeof part === 'string' && part);
        if (about.length > 0) item.append(el('span', 'edition-meta', ` · ${about.join(' · ')}`));
        return item;
      }),
    );
    editionsState.textContent = editionsError === null ? '' : t('editionsFailed', { msg: editionsError });
    // "… im {link}.": the link sits where the sentence has it in either language.
    const [before, after = ''] = t('archiveNote', { link: '\u0000' }).split('\u0000');
    const link = el('a', '', t('archiveLink'));
    link.href = '/archive';
    link.id = 'archive-link';
    archiveNote.replaceChildren(before, link, after);
  };

  const loadEditions = async ({ quiet = false } = {}) => {
    try {
      const list = await api('GET', `/api/archive?doc=${encodeURIComponent(docId)}`);
      const fresh = Array.isArray(list) ? list.filter((e) => isEntry(e) && e.doc === docId).sort((a, b) => b.edition - a.edition) : [];
      if (quiet && editionsError === null && JSON.stringify(fresh) === JSON.stringify(editions)) return;
      editions = fresh;
      editionsError = null;
    } catch (err) {
      if (quiet) return;
      editionsError = errorText(err);
    }
    renderEditions();
    renderVersions();
    renderPoints();
  };

  const adopt = async (version) => {
    say('');
    const docTitle = slot.querySelector('#doc-title')?.textContent ?? '';
    await adoptVersion({
      docId,
      version,
      docTitle,
      onAdopted: (entry) => {
        say(t('adoptedStatus', { title: entry.title, edition: entry.edition }), { text: t('adoptView'), href: entryHref(entry) });
        loadEditions();
      },
    });
    const selector = `.version[data-version-id="${CSS.escape(version.id)}"] [data-action="adopt"]`;
    (panel.querySelector(selector) ?? $('#history-title')).focus();
  };

  // --- Points in time: what the compare menus offer -------------------------------------

  const timelineAt = () => {
    const value = Number(slider.value);
    if (span.start === null || value >= STEPS) return null;
    return Math.round(span.start + ((Math.max(span.end, span.start) - span.start) * value) / STEPS);
  };
  const iso = (ms) => new Date(ms).toISOString();
  /** A moment on the timeline, to the second when the document is young. */
  const moment = (ms) => (span.start !== null && span.end - span.start < SECONDS_BELOW_MS ? formatDateSeconds(ms) : formatDate(ms));

  /** A compare menu's value as a point the API understands: `now`, a version id or an RFC 3339 time. */
  const pointOf = (value) => {
    if (value === 'start') return iso(span.start);
    if (value === 'timeline') {
      const at = timelineAt();
      return at === null ? 'now' : iso(at);
    }
    return value;
  };

  /** A point (`now`, a version id, an RFC 3339 time) in words. */
  const pointLabel = (point) => {
    if (point === 'now') return t('pointNow');
    const version = versionById(point);
    if (version) return t('pointVersion', { name: version.name, date: formatDate(version.created_at) });
    const entry = editions.find((e) => e.id === point);
    if (entry) return editionLabel(entry);
    const at = Date.parse(point);
    return Number.isFinite(at) ? t('pointAt', { date: moment(at) }) : point;
  };

  const option = (value, text) => {
    const node = el('option', '', text);
    node.value = value;
    return node;
  };

  const renderPoints = () => {
    const named = (versions ?? []).filter((v) => v.kind !== 'auto');
    const auto = (versions ?? []).filter((v) => v.kind === 'auto');
    const at = timelineAt();
    for (const [select, fallback] of [
      [fromSelect, named[0]?.id ?? versions?.[0]?.id ?? (span.start === null ? 'now' : 'start')],
      [toSelect, 'now'],
    ]) {
      const options = [option('now', t('pointNow'))];
      if (at !== null) options.push(option('timeline', t('pointTimeline', { date: moment(at) })));
      if (span.start !== null) options.push(option('start', t('pointStart', { date: moment(span.start) })));
      const groups = [
        ['compareEditions', editions.map((e) => option(e.id, editionLabel(e)))],
        ['compareVersions', named.map((v) => option(v.id, t('pointVersion', { name: v.name, date: formatDate(v.created_at) })))],
        ['compareAuto', auto.map((v) => option(v.id, t('pointVersion', { name: v.name, date: formatDate(v.created_at) })))],
      ];
      for (const [label, list] of groups) {
        if (list.length === 0) continue;
        const group = el('optgroup');
        group.label = t(label);
        group.append(...list);
        options.push(group);
      }
      select.replaceChildren(...options);
      const values = [...select.options].map((o) => o.value);
      const wanted = picked.get(select) ?? fallback;
      select.value = values.includes(wanted) ? wanted : values.includes(fallback) ? fallback : 'now';
    }
  };
  // What the person chose stays chosen when the menus are drawn anew; until then, the defaults.
  const picked = new Map();
  for (const select of [fromSelect, toSelect]) select.addEventListener('change', () => picked.set(select, select.value));

  // --- Comparing ---------------------------------------------------------------------------

  const compare = async () => {
    const from = pointOf(fromSelect.value);
    const to = pointOf(toSelect.value);
    const state = $('#diff-state');
    if (from === to) {
      state.textContent = t('compareSame');
      return false;
    }
    const seq = ++diffSeq;
    state.textContent = t('loading');
    try {
      const query = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
      const answer = await api('GET', docPath(docId, `/diff?${query}`));
      if (seq !== diffSeq) return false;
      diff = { answer, from, to, query };
      state.textContent = '';
      renderDiffResult();
      return true;
    } catch (err) {
      if (seq !== diffSeq) return false;
      state.textContent = t('compareFailed', { msg: errorText(err) });
      return false;
    }
  };

  const renderDiffResult = () => {
    if (diff === null) return;
    const labels = { from: pointLabel(diff.from), to: pointLabel(diff.to) };
    $('#diff-result').hidden = false;
    $('#diff-points').textContent = t('diffPoints', labels);
    renderSummary($('#diff-summary'), diff.answer);
    const mode = panel.querySelector('input[name=diff-mode]:checked')?.value ?? 'inline';
    renderDiff($('#diff-view'), diff.answer, { mode, onlyChanges: $('#diff-only').checked, labels });
    $('#diff-download').href = docPath(docId, `/diff?${diff.query}&format=unified`);
  };

  /** "Compare with …" on a version: it becomes the earlier point and is compared with the later one (the current text unless chosen). */
  const compareWith = (version) => {
    fromSelect.value = version.id;
    picked.set(fromSelect, version.id);
    if (toSelect.value === version.id) {
      toSelect.value = 'now';
      picked.set(toSelect, 'now');
    }
    // The result takes the focus (and comes into view); the later point is one step back.
    compare().then((done) => done && $('#diff-points').focus());
  };

  $('#compare-form').addEventListener('submit', (event) => {
    event.preventDefault();
    compare();
  });
  $('.diff-options').addEventListener('change', renderDiffResult);

  // --- Timeline and preview ---------------------------------------------------------------

  const renderTimeline = () => {
    const usable = span.start !== null;
    slider.disabled = !usable;
    $('#timeline-hint').textContent = t(usable ? 'timelineHint' : 'timelineUnavailable');
    $('#timeline-start').textContent = usable ? moment(span.start) : '';
    $('#timeline-end').textContent = usable ? t('pointNow') : '';
    const at = timelineAt();
    const text = at === null ? t('pointNow') : moment(at);
    $('#timeline-at').textContent = usable ? text : '';
    slider.setAttribute('aria-valuetext', text);
    // The timeline's own option in the compare menus follows the slider.
    for (const select of [fromSelect, toSelect]) {
      const own = select.querySelector('option[value=timeline]');
      if (own && at !== null) own.textContent = t('pointTimeline', { date: moment(at) });
      else if (own || at !== null) renderPoints();
    }
  };

  /** Version positions as tick marks on the slider. */
  const renderTicks = () => {
    const ticks = $('#timeline-ticks');
    if (span.start === null || versions === null) return;
    const length = Math.max(span.end - span.start, 1);
    ticks.replaceChildren(
      ...versions
        .filter((v) => v.kind !== 'auto' && v.created_at >= span.start && v.created_at <= span.end)
        .map((v) => option(String(Math.round(((v.created_at - span.start) / length) * STEPS)), v.name)),
    );
  };

  const previewHeading = () => {
    if (preview === null) return '';
    if (preview.version) return t('previewVersion', { name: preview.version.name, date: formatDate(preview.version.created_at) });
    return preview.at === null ? t('pointNow') : t('pointAt', { date: moment(preview.at) });
  };

  const showPreview = async (path) => {
    const seq = ++previewSeq;
    $('#preview-section').hidden = false;
    $('#preview-heading').textContent = previewHeading();
    $('#preview-state').textContent = t('loading');
    try {
      const html = await api('GET', path, undefined, { text: true });
      if (seq !== previewSeq) return;
      $('#preview').replaceChildren(renderedHtml(html));
      $('#preview-state').textContent = html.trim() ? '' : t('previewEmpty');
    } catch (err) {
      if (seq !== previewSeq) return;
      $('#preview').replaceChildren();
      $('#preview-state').textContent = t('previewFailed', { msg: errorText(err) });
    }
  };

  const showMoment = () => {
    const at = timelineAt();
    preview = { at };
    // "Now" by this browser's clock, never before the creation by the server's.
    const t0 = at ?? Math.max(Date.now(), span.start);
    showPreview(docPath(docId, `/at?t=${encodeURIComponent(iso(t0))}&format=html`));
  };

  const showVersion = (version) => {
    preview = { version };
    showPreview(docPath(docId, `/versions/${encodeURIComponent(version.id)}?format=html`));
    $('#preview-heading').focus();
  };

  slider.addEventListener('input', () => {
    renderTimeline();
    clearTimeout(previewTimer);
    previewTimer = setTimeout(showMoment, PREVIEW_DELAY_MS);
  });

  // --- Authorship ------------------------------------------------------------------------

  const loadBlame = async () => {
    const seq = ++blameSeq;
    const state = $('#blame-state');
    if (blame === null) state.textContent = t('loading');
    try {
      const answer = await api('GET', docPath(docId, '/blame?at=now'));
      if (seq !== blameSeq || !blameToggle.checked) return;
      blame = answer;
      state.textContent = '';
      renderBlameNow();
    } catch (err) {
      if (seq !== blameSeq) return;
      state.textContent = t('blameFailed', { msg: errorText(err) });
    }
  };
  const renderBlameNow = () => {
    if (blame !== null) renderBlame($('#blame-view'), $('#blame-legend'), blame, blockKinds());
  };
  blameToggle.addEventListener('change', () => {
    $('#blame-result').hidden = !blameToggle.checked;
    if (blameToggle.checked) {
      loadBlame();
    } else {
      blameSeq += 1;
      blame = null;
      $('#blame-state').textContent = '';
    }
  });
  // While shown, authorship follows the text (after a pause, once the server has the change).
  ydoc.on('update', () => {
    if (panel.hidden || !blameToggle.checked) return;
    clearTimeout(blameTimer);
    blameTimer = setTimeout(loadBlame, BLAME_DELAY_MS);
  });

  onLangChange(() => {
    renderVersions();
    renderEditions();
    renderPoints();
    renderTimeline();
    if (preview !== null) $('#preview-heading').textContent = previewHeading();
    renderDiffResult();
    renderBlameNow();
  });
  translate(panel);
  renderTimeline();
  renderEditions();
  renderPoints();
}
