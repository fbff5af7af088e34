// editor.js — owns the editor page: Yjs document, websocket + IndexedDB sync, Tiptap, toolbar, counts,
// and what my role allows here (readers get no toolbar and a read-only text). The history panel
// (history-panel.js) sits beside the editor for everyone; moderators may also name and restore.
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { IndexeddbPersistence } from 'y-indexeddb';
import { Editor } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import Collaboration from '@tiptap/extension-collaboration';
import { t, onLangChange, formatNumber, translate } from './i18n.js';
import { renderPeople } from './presence.js';
import { fetchMe, chooseName, loadColor } from './me.js';
import { showNeedInvite, showNoAccess } from './access.js';
import { openPeoplePanel } from './people-panel.js';
import { Carets } from './carets.js';
import { watchConnection } from './connection.js';
import { fetchDocInfo, localStoreName } from './doc-info.js';
import { wireHistory } from './history-panel.js';
import { wireMenu } from './menu-button.js';
import { wireExport, printHeader } from './export-menu.js';
import { EmptyHint } from './empty-hint.js';

const LOCAL_TIMEOUT_MS = 3000;

// Toolbar commands: what a button does, and when it shows as pressed.
const COMMANDS = {
  paragraph: { run: (c) => c.setParagraph(), active: (e) => e.isActive('paragraph') },
  h1: { run: (c) => c.toggleHeading({ level: 1 }), active: (e) => e.isActive('heading', { level: 1 }) },
  h2: { run: (c) => c.toggleHeading({ level: 2 }), active: (e) => e.isActive('heading', { level: 2 }) },
  h3: { run: (c) => c.toggleHeading({ level: 3 }), active: (e) => e.isActive('heading', { level: 3 }) },
  bold: { run: (c) => c.toggleBold(), active: (e) => e.isActive('bold') },
  italic: { run: (c) => c.toggleItalic(), active: (e) => e.isActive('italic') },
  bulletList: { run: (c) => c.toggleBulletList(), active: (e) => e.isActive('bulletList') },
  orderedList: { run: (c) => c.toggleOrderedList(), active: (e) => e.isActive('orderedList') },
  blockquote: { run: (c) => c.toggleBlockquote(), active: (e) => e.isActive('blockquote') },
  undo: { run: (c) => c.undo(), enabled: (e) => e.can().undo() },
  redo: { run: (c) => c.redo(), enabled: (e) => e.can().redo() },
};

/** The editing area's attributes: its accessible name follows the UI language; the text is German. */
const editorAttributes = () => ({ 'aria-label': t('editorLabel'), 'aria-multiline': 'true', role: 'textbox', lang: 'de' });

/** Who I am when the server has never answered for this document (opened offline, storage refused): changes are the server's to refuse. */
const unknownMe = () => ({ name: t('unknownPerson'), group: null, role: 'editor', admin: false, needsName: false });

/** Open document `docId` in `main`, with the header controls in `slot`. */
export async function showEditor(main, slot, docId) {
  // At most 3 s each; offline or on a server error the cached answers are used.
  const [access, info] = await Promise.all([fetchMe(docId), fetchDocInfo(docId)]);
  if (access.denied === 401) {
    showNeedInvite(main);
    return;
  }
  if (access.denied === 403) {
    showNoAccess(main, docId, access.error);
    return;
  }
  if (info === null) {
    showNotFound(main, 'notFound');
    return;
  }
  document.title = `${info.title} – Leitbild`;

  slot.replaceChildren(document.getElementById('tpl-editor-bar').content.cloneNode(true));
  main.replaceChildren(document.getElementById('tpl-editor').content.cloneNode(true));
  slot.querySelector('#doc-title').textContent = info.title;
  slot.querySelector('#doc-title').title = info.title;
  translate(slot);
  translate(main);
  printHeader(main.querySelector('.editor-column'), info.title);
  wireExport(slot, docId, info.title);

  // A new member of a group link names themselves first, so that nobody ever sees a placeholder.
  let me = access.me ?? unknownMe();
  if (me.needsName) me = await chooseName(docId, '', { required: true });
  const writable = me.role !== 'reader';
  const color = loadColor();

  const ydoc = new Y.Doc();
  const wsOrigin = location.origin.replace(/^http/, 'ws');
  // `created` tells the server which document our local copy belongs to: if it was created
  // anew under the same id, the server refuses the copy (close code 4409).
  const params = info.createdAt === null ? {} : { created: String(info.createdAt) };
  const provider = new WebsocketProvider(`${wsOrigin}/ws`, docId, ydoc, { connect: navigator.onLine, params });
  // Once the connection has ended for good (revoked, deleted, created anew) nothing typed would be
  // saved, so the text becomes read-only. Signed out is different: typing goes on into the local
  // copy, which is sent once the person has signed in again.
  let stopped = false;
  let editor = null;
  const connection = watchConnection(provider, docId, (why) => {
    stopped = why !== null && why !== 'signedOut';
    editor?.setEditable(writable && !stopped);
    main.querySelector('#toolbar').hidden = !writable || stopped;
  });
  connection.show(slot.querySelector('#conn'), slot.querySelector('#conn-text'), main.querySelector('#conn-notice'));
  main.querySelector('#toolbar').hidden = !writable || stopped;
  main.querySelector('#read-only-notice').hidden = writable;

  // Edits land in IndexedDB first, so they survive a reload while offline and merge on reconnect.
  const local = await openLocalCopy(localStoreName(docId, info.createdAt), ydoc);
  main.querySelector('#storage-notice').hidden = local !== null;
  await serverSynced(provider);

  editor = new Editor({
    element: main.querySelector('#editor'),
    editable: writable && !stopped,
    // Tiptap would otherwise inject a <style> tag, which the CSP forbids; style.css carries its rules.
    injectCSS: false,
    extensions: [
      // Yjs's UndoManager (via Collaboration) replaces ProseMirror history: undo is per user.
      StarterKit.configure({
        undoRedo: false,
        // A trailing paragraph appended by every client can duplicate under concurrent edits.
        trailingNode: false,
        link: false,
        underline: false,
        heading: { levels: [1, 2, 3] },
      }),
      Collaboration.configure({ document: ydoc, field: 'default' }),
      Carets.configure({ provider, user: awarenessUser(me, color) }),
      EmptyHint.configure({ hint: () => t(writable ? 'emptyDocHint' : 'emptyDocHintReader') }),
    ],
    editorProps: { attributes: editorAttributes() },
  });

  if (writable) wireToolbar(main.querySelector('#toolbar'), editor);
  wireCounts(main.querySelector('#counts'), editor);
  renderPeople(main.querySelector('#people'), provider.awareness);
  wireMe(slot, docId, me, (next) => {
    me = next;
    editor.commands.updateUser(awarenessUser(me, color));
    window.leitbild.me = me;
  });
  if (me.role === 'moderator' || me.role === 'admin') {
    const button = slot.querySelector('#people-button');
    button.hidden = false;
    button.addEventListener('click', () => openPeoplePanel(docId, me.role, button));
  }
  wireHistory({
    slot,
    main,
    docId,
    createdAt: info.createdAt,
    canManage: me.role === 'moderator' || me.role === 'admin',
    ydoc,
    blockKinds: () => blockKinds(editor),
  });
  onLangChange(() => editor.setOptions({ editorProps: { attributes: editorAttributes() } }));

  window.leitbild = { editor, provider, ydoc, local, me };
  editor.commands.focus('start');
}

/**
 * The editor's blocks in order, as the server counts them (headings, paragraphs, list items,
 * rules), each as `{kind, text}` with `kind` a CSS class of the history views (`k-h2`, `k-li`, …),
 * and `n`, the number an item of a numbered list shows.
 */
function blockKinds(editor) {
  const { doc } = editor.state;
  const blocks = [];
  doc.descendants((node, pos, parent) => {
    if (node.type.name === 'horizontalRule') {
      blocks.push({ kind: 'k-hr', text: '' });
      return false;
    }
    if (!node.isTextblock) return true;
    let kind = 'k-p';
    let n;
    if (node.type.name === 'heading') kind = `k-h${node.attrs.level}`;
    else if (node.type.name === 'codeBlock') kind = 'k-code';
    else if (parent?.type.name === 'listItem') {
      const $pos = doc.resolve(pos);
      const list = $pos.depth >= 2 ? $pos.node($pos.depth - 1) : null;
      kind = list?.type.name === 'orderedList' ? 'k-ol' : 'k-li';
      // The item's number, on its first paragraph only.
      if (kind === 'k-ol' && $pos.index($pos.depth) === 0) n = (Number(list.attrs.start) || 1) + $pos.index($pos.depth - 1);
    } else if (parent?.type.name === 'blockquote') kind = 'k-quote';
    blocks.push(n === undefined ? { kind, text: node.textContent } : { kind, text: node.textContent, n });
    return false;
  });
  return blocks;
}

/** What I publish as `user` in the awareness: the server overwrites name and group for the others anyway. */
const awarenessUser = (me, color) => (me.group ? { name: me.name, group: me.group, color } : { name: me.name, color });

/**
 * The IndexedDB copy of the document, loaded into `ydoc`; null when the browser refuses IndexedDB
 * or does not answer within 3 s. The editor then works online only (and says so).
 */
async function openLocalCopy(name, ydoc) {
  const timeout = new Promise((resolve) => setTimeout(resolve, LOCAL_TIMEOUT_MS, null));
  const open = async () => {
    // y-indexeddb leaves a refused open as an unhandled rejection: find out first, on a scratch database.
    if (!(await indexedDbWorks())) return null;
    const local = new IndexeddbPersistence(name, ydoc);
    await local.whenSynced;
    return local;
  };
  const opening = open().catch(() => null);
  const local = await Promise.race([opening, timeout]);
  // Too slow: give up on it, also when it turns up later, so the notice stays true.
  if (local === null) opening.then((late) => late?.destroy());
  return local;
}

/** Whether this browser lets us open an IndexedDB database at all (private modes and policies may not). */
function indexedDbWorks() {
  return new Promise((resolve) => {
    try {
      const request = indexedDB.open('leitbild-probe');
      request.onsuccess = () => {
        request.result.close();
        resolve(true);
      };
      request.onerror = () => resolve(false);
      request.onblocked = () => resolve(false);
    } catch {
      resolve(false);
    }
  });
}

/**
 * When online, wait for the server's copy before binding the editor: an editor bound to a
 * still-empty fragment writes its own empty paragraph, and two people opening a new document at
 * once would then get two. Offline or with an unreachable server we go on after 5 s.
 */
async function serverSynced(provider) {
  if (!navigator.onLine || provider.synced) return;
  await new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      provider.off('sync', onSync);
      window.removeEventListener('offline', done);
      resolve();
    };
    const onSync = (isSynced) => isSynced && done();
    const timer = setTimeout(done, 5000);
    provider.on('sync', onSync);
    window.addEventListener('offline', done);
  });
}

/** Replace the page with the message `key` and a link back to the list (an unknown document, a broken link). */
export function showNotFound(main, key) {
  const text = document.createElement('p');
  text.className = 'notice';
  text.dataset.i18n = key;
  const link = document.createElement('a');
  link.href = '/';
  link.dataset.i18n = 'backToList';
  const back = document.createElement('p');
  back.append(link);
  const section = document.createElement('section');
  section.className = 'not-found';
  section.append(text, back);
  main.replaceChildren(section);
  translate(main);
}

/**
 * The toolbar's controls. Every block format has a visible name next to its symbol (¶, •≡ … alone
 * said nothing, and a phone has no hover). `wide` ones show only on wide screens; narrow screens
 * get bold, italic, undo, redo and a "Format" menu with all block formats, so the toolbar stays
 * one row. Names are the i18n keys `label` (accessible name, tooltip) and `text` (visible).
 */
const TOOLS = [
  { cmd: 'paragraph', label: 'paragraph', text: 'paragraph', wide: true },
  { cmd: 'h1', label: 'heading1', icon: 'H1', wide: true },
  { cmd: 'h2', label: 'heading2', icon: 'H2', wide: true },
  { cmd: 'h3', label: 'heading3', icon: 'H3', wide: true },
  { sep: true, wide: true },
  { cmd: 'bold', label: 'bold', icon: 'B', iconTag: 'b' },
  { cmd: 'italic', label: 'italic', icon: 'I', iconTag: 'i' },
  { sep: true, wide: true },
  { cmd: 'bulletList', label: 'bulletList', icon: '•', text: 'bulletList', wide: true },
  { cmd: 'orderedList', label: 'orderedList', icon: '1.', text: 'fmtOrderedList', wide: true },
  { cmd: 'blockquote', label: 'blockquote', icon: '❝', text: 'blockquote', wide: true },
  { sep: true },
  { cmd: 'undo', label: 'undo', icon: '↶' },
  { cmd: 'redo', label: 'redo', icon: '↷' },
];

/** The Format menu (narrow screens): block formats by name, the current one checked. */
const FORMAT_ITEMS = [
  { cmd: 'paragraph', icon: '¶', text: 'paragraph' },
  { cmd: 'h1', icon: 'H1', text: 'fmtHeading1' },
  { cmd: 'h2', icon: 'H2', text: 'fmtHeading2' },
  { cmd: 'h3', icon: 'H3', text: 'fmtHeading3' },
  { cmd: 'bulletList', icon: '•', text: 'bulletList' },
  { cmd: 'orderedList', icon: '1.', text: 'fmtOrderedList' },
  { cmd: 'blockquote', icon: '❝', text: 'blockquote' },
];

/** A symbol for sighted people only; the control's name says it in words. */
function icon(tool) {
  const span = document.createElement(tool.iconTag ?? 'span');
  span.className = 'tb-icon';
  span.setAttribute('aria-hidden', 'true');
  span.textContent = tool.icon;
  return span;
}

/** A visible name, kept up to date by translate() through data-i18n. */
function words(key) {
  const span = document.createElement('span');
  span.className = 'tb-text';
  span.dataset.i18n = key;
  return span;
}

/** Fill `toolbar` with its buttons and the Format menu; returns the controls in order. */
function buildToolbar(toolbar) {
  const controls = TOOLS.map((tool) => {
    if (tool.sep) {
      const sep = document.createElement('span');
      sep.className = tool.wide ? 'sep tb-wide' : 'sep';
      sep.setAttribute('aria-hidden', 'true');
      return sep;
    }
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.cmd = tool.cmd;
    button.dataset.i18nAria = tool.label;
    if (tool.wide) button.classList.add('tb-wide');
    if (COMMANDS[tool.cmd].active) button.setAttribute('aria-pressed', 'false');
    if (tool.icon) button.append(icon(tool));
    if (tool.text) button.append(words(tool.text));
    return button;
  });

  const format = document.createElement('div');
  format.className = 'tb-format';
  const formatButton = document.createElement('button');
  formatButton.type = 'button';
  formatButton.id = 'format-button';
  formatButton.append(words('fmtMenu'), icon({ icon: '▾' }));
  const menu = document.createElement('div');
  menu.className = 'menu';
  menu.id = 'format-menu';
  menu.setAttribute('role', 'menu');
  menu.setAttribute('aria-labelledby', 'format-button');
  for (const item of FORMAT_ITEMS) {
    const entry = document.createElement('button');
    entry.type = 'button';
    entry.setAttribute('role', 'menuitemradio');
    entry.setAttribute('aria-checked', 'false');
    entry.dataset.cmd = item.cmd;
    entry.append(icon(item), words(item.text));
    menu.append(entry);
  }
  format.append(formatButton, menu);
  // The Format menu comes right after italic: the block formats it replaces sit there too.
  controls.splice(TOOLS.findIndex((tool) => tool.cmd === 'italic') + 1, 0, format);
  toolbar.replaceChildren(...controls);
  toolbar.classList.add('built');
  translate(toolbar);
  wireMenu(formatButton, menu);
}

/**
 * Buttons run commands and mirror the selection; arrow keys move between the visible ones
 * (roving tabindex; the Format menu handles its own keys).
 */
function wireToolbar(toolbar, editor) {
  buildToolbar(toolbar);
  const all = [...toolbar.querySelectorAll(':scope > button, :scope > .tb-format > button')];
  const visible = () => all.filter((b) => b.getClientRects().length > 0);
  const setFocusable = (target) => all.forEach((b) => (b.tabIndex = b === target ? 0 : -1));
  // Which buttons show depends on the width: keep one visible tab stop.
  const keepTabStop = () => {
    const shown = visible();
    if (!shown.some((b) => b.tabIndex === 0)) setFocusable(shown[0]);
  };
  setFocusable(visible()[0] ?? all[0]);
  window.addEventListener('resize', keepTabStop);

  toolbar.addEventListener('mousedown', (event) => {
    // Keep the text selection in the editor when a button is clicked.
    if (event.target.closest('button')) event.preventDefault();
  });
  toolbar.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-cmd]');
    if (!button) return;
    COMMANDS[button.dataset.cmd].run(editor.chain().focus()).run();
  });
  toolbar.addEventListener('keydown', (event) => {
    const shown = visible();
    const index = shown.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    let next = null;
    if (step) next = (index + step + shown.length) % shown.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = shown.length - 1;
    if (next === null || index < 0) return;
    event.preventDefault();
    setFocusable(shown[next]);
    shown[next].focus();
  });
  toolbar.addEventListener('focusin', (event) => {
    if (all.includes(event.target)) setFocusable(event.target);
  });

  const refresh = () => {
    for (const button of toolbar.querySelectorAll('[data-cmd]')) {
      const command = COMMANDS[button.dataset.cmd];
      const state = command.active ? String(command.active(editor)) : null;
      if (button.getAttribute('role') === 'menuitemradio') button.setAttribute('aria-checked', state);
      else if (state !== null) button.setAttribute('aria-pressed', state);
      if (command.enabled) button.setAttribute('aria-disabled', String(!command.enabled(editor)));
    }
  };
  editor.on('transaction', refresh);
  refresh();
}

/** A live word and character count of the whole document. */
function wireCounts(output, editor) {
  const render = () => {
    const text = editor.state.doc.textBetween(0, editor.state.doc.content.size, '\n', '\n');
    const words = (text.match(/\S+/g) || []).length;
    const chars = [...text.replace(/\n/g, '')].length;
    output.textContent = t(words === 1 ? 'countsOne' : 'counts', {
      words: formatNumber(words),
      chars: formatNumber(chars),
    });
  };
  editor.on('update', render);
  onLangChange(render);
  render();
}

/**
 * The header chip showing my name (and group) and colour; clicking or tapping it lets me change
 * the name, which the server stores. `changed(me)` hears about the new name.
 */
function wireMe(slot, docId, me, changed) {
  const button = slot.querySelector('#me-button');
  const render = () => {
    const full = me.group ? `${me.name} (${me.group})` : me.name;
    slot.querySelector('#me-name').textContent = me.name;
    slot.querySelector('#me-group').textContent = me.group ?? '';
    slot.querySelector('#me-group').hidden = !me.group;
    slot.querySelector('#me-swatch').style.backgroundColor = loadColor();
    button.setAttribute('aria-label', t('changeName', { name: full }));
    button.title = full;
    button.hidden = false;
  };
  button.addEventListener('click', async () => {
    const next = await chooseName(docId, me.name, { required: false });
    if (next) {
      me = next;
      changed(me);
      render();
    }
    button.focus();
  });
  onLangChange(render);
  render();
}
