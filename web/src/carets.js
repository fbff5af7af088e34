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

/** The caret: a coloured bar with the name above it. Hidden from screen readers, which would read it as part of the text. */
function renderCaret(peer) {
  const { name, color } = sanitizeUser(peer);
  const caret = document.createElement('span');
  caret.className = 'collaboration-carets__caret';
  caret.setAttribute('aria-hidden', 'true');
  caret.style.borderColor = color;
  const label = document.createElement('span');
  label.className = 'collaboration-carets__label';
  label.style.backgroundColor = color;
  label.textContent = name;
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

  addProseMirrorPlugins() {
    const { awareness } = this.options.provider;
    awareness.setLocalStateField('user', this.options.user);
    return [yCursorPlugin(awareness, { awarenessStateFilter: showCaret, cursorBuilder: renderCaret, selectionBuilder: renderSelection })];
  },
});
