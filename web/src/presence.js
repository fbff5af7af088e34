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

/** Keep `list` showing everyone in the awareness states, me first, each with a sanitised name, group and colour. */
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
        const text = document.createElement('span');
        text.className = 'person';
        const name = document.createElement('span');
        name.className = 'person-name';
        name.textContent = person.me ? `${person.name} ${t('you')}` : person.name;
        text.append(name);
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
  };
  awareness.on('change', render);
  onLangChange(render);
  render();
}
