// presence.js — owns who I am (name, colour), the name dialog, the "here now" list, and what is shown of other people.
import { t, onLangChange } from './i18n.js';
import { readItem, writeItem } from './storage.js';

// Dark enough that white label text on them meets WCAG AA (≥ 4.5:1).
const PALETTE = ['#b3261e', '#1a5fb4', '#26734d', '#6a1b9a', '#a13d00', '#00695c', '#ad1457', '#4527a0'];
// For peers whose colour is missing or not a plain #rrggbb: also ≥ 4.5:1 under white text.
const NEUTRAL = '#54585f';
const MAX_NAME = 40;
const NAME_KEY = 'leitbild.name';
const COLOR_KEY = 'leitbild.color';

/** The remembered identity; a colour is picked (and remembered) on first use. */
export function loadUser() {
  let color = readItem(COLOR_KEY);
  if (!PALETTE.includes(color)) {
    color = PALETTE[Math.floor(Math.random() * PALETTE.length)];
    writeItem(COLOR_KEY, color);
  }
  return { name: readItem(NAME_KEY) || '', color };
}

/**
 * What may be shown of a peer's awareness `user` field. Anyone can send anything there, so only a
 * non-empty string name (trimmed, at most 40 characters) and a #rrggbb colour are trusted.
 */
export function sanitizeUser(user) {
  const name = typeof user?.name === 'string' ? user.name.trim().slice(0, MAX_NAME) : '';
  const color = typeof user?.color === 'string' && /^#[0-9a-f]{6}$/i.test(user.color) ? user.color : NEUTRAL;
  return { name: name || t('unknownPerson'), color };
}

/**
 * Ask for a display name in the modal dialog, prefilled with `current`.
 * Resolves with the chosen name (remembered); a dismissed first visit gets a guest name.
 */
export function askName(current) {
  const dialog = document.getElementById('name-dialog');
  const form = document.getElementById('name-form');
  const input = document.getElementById('name-input');
  input.value = current;
  return new Promise((resolve) => {
    const finish = (name) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      writeItem(NAME_KEY, name);
      resolve(name);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (name) finish(name.slice(0, MAX_NAME));
      else input.focus();
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(current || `${t('guest')} ${Math.floor(100 + Math.random() * 900)}`);
    };
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.select();
  });
}

/** Keep `list` showing everyone in the awareness states, me first, each with a sanitised name and colour. */
export function renderPeople(list, awareness) {
  const render = () => {
    const people = [];
    for (const [clientId, state] of awareness.getStates()) {
      if (!state?.user) continue;
      people.push({ clientId, ...sanitizeUser(state.user), me: clientId === awareness.clientID });
    }
    people.sort((a, b) => Number(b.me) - Number(a.me) || a.name.localeCompare(b.name) || a.clientId - b.clientId);
    list.replaceChildren(
      ...people.map((person) => {
        const item = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.setAttribute('aria-hidden', 'true');
        swatch.style.backgroundColor = person.color;
        item.append(swatch, document.createTextNode(person.me ? `${person.name} ${t('you')}` : person.name));
        item.dataset.clientId = String(person.clientId);
        return item;
      }),
    );
  };
  awareness.on('change', render);
  onLangChange(render);
  render();
}
