// presence.js — owns the "here now" list and what is shown of other people. The server writes each
// peer's real name and group into the awareness states it relays; the colour is the peer's choice.
import { t, onLangChange } from './i18n.js';
import { MAX_NAME } from './me.js';

// For peers whose colour is missing or not a plain #rrggbb: ≥ 4.5:1 under white text.
const NEUTRAL = '#54585f';
const MAX_GROUP = 120;

/** A trimmed, non-empty string of at most `max` characters, or ''. */
const clean = (value, max) => (typeof value === 'string' ? value.trim().slice(0, max) : '');

/**
 * What may be shown of a peer's awareness `user` field. Anything may arrive there (the server
 * vouches only for name and group), so only strings are shown, trimmed and cut, and only a
 * #rrggbb colour is used.
 */
export function sanitizeUser(user) {
  const name = clean(user?.name, MAX_NAME);
  const color = typeof user?.color === 'string' && /^#[0-9a-f]{6}$/i.test(user.color) ? user.color : NEUTRAL;
  return { name: name || t('unknownPerson'), group: clean(user?.group, MAX_GROUP), color };
}

// How many colour dots the folded "here now" button shows before the count says the rest.
const MAX_DOTS = 5;

/**
 * Keep `list` showing everyone in the awareness states, me first, each with a sanitised name,
 * group and colour. A name too long for its line ends in an ellipsis; the whole name stays in
 * the DOM, in a title for the mouse, and the name becomes focusable so that keyboard users can
 * unfold it too (style.css shows it in full on hover and focus). The "(Sie)" marker sits outside
 * the cut element so it is never the part that goes missing.
 *
 * On narrow screens the list sits above the editor, folded behind a button "Jetzt dabei (n)"
 * (`#people-toggle`, a disclosure: aria-expanded, Escape folds it and returns the focus).
 */
export function renderPeople(list, awareness) {
  const aside = list.closest('.presence');
  const toggle = aside?.querySelector('#people-toggle');
  const toggleText = aside?.querySelector('#people-toggle-text');
  const dots = aside?.querySelector('#people-dots');
  let count = 0;
  // What the list last showed: carets moving change the awareness many times a second, and a
  // rebuilt list would take the focus away from a name being read.
  let shown = null;

  const markCut = () => {
    for (const name of list.querySelectorAll('.person-name')) {
      // Measured while unfolded only: a hidden list has nothing to cut.
      const cut = name.clientWidth > 0 && name.scrollWidth > name.clientWidth + 1;
      if (cut && name.tabIndex !== 0) name.tabIndex = 0;
      if (!cut && name.hasAttribute('tabindex') && document.activeElement !== name) name.removeAttribute('tabindex');
    }
  };

  const render = (force = false) => {
    const people = [];
    for (const [clientId, state] of awareness.getStates()) {
      if (!state?.user) continue;
      people.push({ clientId, ...sanitizeUser(state.user), me: clientId === awareness.clientID });
    }
    people.sort((a, b) => Number(b.me) - Number(a.me) || a.name.localeCompare(b.name) || a.clientId - b.clientId);
    const key = JSON.stringify(people.map((p) => [p.clientId, p.name, p.group, p.color, p.me]));
    if (key === shown && force !== true) return;
    shown = key;
    count = people.length;
    list.replaceChildren(
      ...people.map((person) => {
        const item = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.setAttribute('aria-hidden', 'true');
        swatch.style.backgroundColor = person.color;
        const text = document.createElement('span');
        text.className = 'person';
        const line = document.createElement('span');
        line.className = 'person-line';
        const name = document.createElement('span');
        name.className = 'person-name';
        name.textContent = person.name;
        name.title = person.group ? `${person.name} (${person.group})` : person.name;
        line.append(name);
        if (person.me) {
          const you = document.createElement('span');
          you.className = 'person-you';
          you.textContent = t('you');
          line.append(' ', you);
        }
        text.append(line);
        if (person.group) {
          const group = document.createElement('span');
          group.className = 'person-group';
          group.textContent = person.group;
          text.append(group);
        }
        item.append(swatch, text);
        item.dataset.clientId = String(person.clientId);
        return item;
      }),
    );
    if (toggle) {
      toggleText.textContent = t('hereNowCount', { n: count });
      dots.replaceChildren(
        ...people.slice(0, MAX_DOTS).map((person) => {
          const dot = document.createElement('span');
          dot.className = 'swatch';
          dot.style.backgroundColor = person.color;
          return dot;
        }),
      );
    }
    markCut();
  };

  if (toggle) {
    const setOpen = (open) => {
      toggle.setAttribute('aria-expanded', String(open));
      aside.classList.toggle('open', open);
      markCut();
    };
    toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));
    aside.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || toggle.getAttribute('aria-expanded') !== 'true') return;
      // Only where the button is in use (narrow screens); elsewhere Escape is not ours.
      if (getComputedStyle(toggle).display === 'none') return;
      event.preventDefault();
      setOpen(false);
      toggle.focus();
    });
  }
  // Whether a name is cut depends on the width: measure again when the list's width changes.
  if (typeof ResizeObserver === 'function') new ResizeObserver(markCut).observe(list);
  awareness.on('change', render);
  onLangChange(() => render(true));
  render();
}
