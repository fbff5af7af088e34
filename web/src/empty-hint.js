// empty-hint.js — owns the hint in an empty document ("Schreiben Sie hier …"): a class and a
// data attribute on the only, empty paragraph, which style.css shows with ::before. It never
// changes the text, so nothing of it reaches the shared document.
import { Extension } from '@tiptap/core';
import { Plugin } from '@tiptap/pm/state';
import { Decoration, DecorationSet } from '@tiptap/pm/view';

/** `hint()` gives the text to show (it follows the UI language). */
export const EmptyHint = Extension.create({
  name: 'emptyHint',

  addOptions() {
    return { hint: () => '' };
  },

  addProseMirrorPlugins() {
    const { hint } = this.options;
    return [
      new Plugin({
        props: {
          decorations: ({ doc }) => {
            const only = doc.childCount === 1 ? doc.firstChild : null;
            if (!only || only.type.name !== 'paragraph' || only.content.size > 0) return null;
            return DecorationSet.create(doc, [Decoration.node(0, only.nodeSize, { class: 'is-empty-doc', 'data-hint': hint() })]);
          },
        },
      }),
    ];
  },
});
