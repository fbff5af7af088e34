// carets.js — owns other people's carets and selections in the text: y-tiptap's cursor plugin fed only with sanitised peers.
import { Extension } from '@tiptap/core';
import { yCursorPlugin } from '@tiptap/y-tiptap';
import { sanitizeUser } from './presence.js';

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Which awareness states get a caret: not mine, and only with an object `user` and a cursor made of
 * two objects. y-tiptap writes defaults into `user` and decodes the cursor, and would throw on
 * anything else, inside the editor's state update, for every participant.
 */
const showCaret = (myClientId, clientId, state) =>
  myClientId !== clientId && isObject(state?.user) && isObject(state.cursor) && isObject(state.cursor.anchor) && isObject(state.cursor.head);

// A name label shows while its peer types or moves, and fades this long after their cursor last
// changed: an idle peer's label would otherwise hide the line above for good.
const LABEL_SHOWN_MS = 3000;

/** When each peer's cursor last changed (clientId -> ms); the caret builder reads it. */
const movedAt = new Map();

const isFresh = (clientId) => Date.now() - (movedAt.get(clientId) ?? 0) < LABEL_SHOWN_MS;

/**
 * The caret: a coloured bar with the name above it. Hidden from screen readers, which would read it
 * as part of the text. `is-active` shows the label; y-tiptap may build the caret anew at any time.
 */
function renderCaret(peer, clientId) {
  const { name, color } = sanitizeUser(peer);
  const caret = document.createElement('span');
  caret.className = 'collaboration-carets__caret';
  caret.dataset.client = String(clientId);
  if (isFresh(clientId)) caret.classList.add('is-active');
  caret.setAttribute('aria-hidden', 'true');
  caret.style.borderColor = color;
  const label = document.createElement('span');
  label.className = 'collaboration-carets__label';
  label.style.backgroundColor = color;
  label.textContent = name;
  // Long names end in an ellipsis (CSS); the whole name stays available on hover.
  label.title = name;
  caret.append(label);
  return caret;
}

/** The selection highlight: the peer's colour, translucent. */
const renderSelection = (peer) => ({
  class: 'ProseMirror-yjs-selection',
  style: `background-color: ${sanitizeUser(peer).color}70`,
});

/** Shows peers' carets from `provider`'s awareness, and publishes mine as `user` ({ name, color }). */
export const Carets = Extension.create({
  name: 'carets',

  addOptions() {
    return { provider: null, user: { name: '', color: '' } };
  },

  addCommands() {
    return {
      updateUser: (user) => () => {
        this.options.provider.awareness.setLocalStateField('user', user);
        return true;
      },
    };
  },

  onCreate() {
    const { awareness } = this.options.provider;
    const lastCursor = new Map();
    const timers = new Map();
    const carets = (clientId) => this.editor.view.dom.querySelectorAll(`.collaboration-carets__caret[data-client="${clientId}"]`);
    // Only a changed cursor counts: a new name or a periodic resend of the same state does not.
    const onAwarenessChange = ({ added, updated, removed }) => {
      for (const clientId of removed) {
        lastCursor.delete(clientId);
        movedAt.delete(clientId);
        clearTimeout(timers.get(clientId));
        timers.delete(clientId);
      }
      for (const clientId of [...added, ...updated]) {
        if (clientId === awareness.clientID) continue;
        const cursor = JSON.stringify(awareness.getStates().get(clientId)?.cursor ?? null);
        if (cursor === lastCursor.get(clientId)) continue;
        lastCursor.set(clientId, cursor);
        movedAt.set(clientId, Date.now());
        for (const caret of carets(clientId)) caret.classList.add('is-active');
        clearTimeout(timers.get(clientId));
        timers.set(
          clientId,
          setTimeout(() => {
            timers.delete(clientId);
            if (!isFresh(clientId)) for (const caret of carets(clientId)) caret.classList.remove('is-active');
          }, LABEL_SHOWN_MS),
        );
      }
    };
    awareness.on('change', onAwarenessChange);
    this.storage.stop = () => {
      awareness.off('change', onAwarenessChange);
      timers.forEach((timer) => clearTimeout(timer));
    };
  },

  addStorage() {
    return { stop: null };
  },

  onDestroy() {
    this.storage.stop?.();
  },

  addProseMirrorPlugins() {
    const { awareness } = this.options.provider;
    awareness.setLocalStateField('user', this.options.user);
    return [yCursorPlugin(awareness, { awarenessStateFilter: showCaret, cursorBuilder: renderCaret, selectionBuilder: renderSelection })];
  },
});
