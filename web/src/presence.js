// presence.js — owns who I am (name, colour), the name dialog, the "here now" list and the connection badge.
import { t, onLangChange } from './i18n.js';

// Dark enough that white label text on them meets WCAG AA (≥ 4.5:1).
const PALETTE = ['#b3261e', '#1a5fb4', '#26734d', '#6a1b9a', '#a13d00', '#00695c', '#ad1457', '#4527a0'];
const NAME_KEY = 'leitbild.name';
const COLOR_KEY = 'leitbild.color';

/** The remembered identity; a colour is picked (and remembered) on first use. */
export function loadUser() {
  let color = localStorage.getItem(COLOR_KEY);
  if (!PALETTE.includes(color)) {
    color = PALETTE[Math.floor(Math.random() * PALETTE.length)];
    localStorage.setItem(COLOR_KEY, color);
  }
  return { name: localStorage.getItem(NAME_KEY) || '', color };
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
      localStorage.setItem(NAME_KEY, name);
      resolve(name);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (name) finish(name.slice(0, 40));
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

/** Keep `list` showing everyone in the awareness states, me first. */
export function renderPeople(list, awareness) {
  const render = () => {
    const people = [];
    for (const [clientId, state] of awareness.getStates()) {
      if (state?.user?.name) people.push({ clientId, ...state.user, me: clientId === awareness.clientID });
    }
    people.sort((a, b) => (b.me - a.me) || a.name.localeCompare(b.name));
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

/**
 * Show connected / reconnecting / offline in `badge`, from the provider's status events and
 * navigator.onLine. The provider is told to drop the socket when the browser reports offline
 * (a dead socket can otherwise linger until its timeout) and to reconnect at once when back.
 */
export function trackConnection(badge, text, provider) {
  let status = provider.wsconnected ? 'connected' : 'connecting';
  const render = () => {
    const state = !navigator.onLine ? 'offline' : status === 'connected' ? 'connected' : 'reconnecting';
    badge.dataset.state = state;
    text.textContent = t(state);
    badge.hidden = false;
  };
  provider.on('status', (event) => {
    status = event.status;
    render();
  });
  window.addEventListener('offline', () => {
    provider.disconnect();
    render();
  });
  window.addEventListener('online', () => {
    provider.connect();
    render();
  });
  onLangChange(render);
  render();
}
