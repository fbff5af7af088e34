// connection.js — owns the provider's link state: reacting to the browser going on/offline, and the connection badge.
import { t, onLangChange } from './i18n.js';

// Close codes with which the server refuses what we sent (invalid data, too big, internal error).
const REFUSED = new Set([1007, 1009, 1011]);
// The server's document was created anew since our local copy was made: never send that copy.
const RECREATED = 4409;
// This many refusals in a row, without a connection lasting STABLE_MS in between, means our
// changes do not get through: say so instead of "reconnecting" forever.
const REFUSALS_TO_FAIL = 2;
const STABLE_MS = 10_000;

/**
 * Start following `provider` at once (call right after creating it, so no event is missed).
 * Returns `{ show(badge, text) }` to render the state into the header badge once it exists.
 * States: offline (browser says so), connected (socket open and synced), failing (the server
 * keeps closing with REFUSED codes), recreated (the document was created anew: reload) and reconnecting (anything else, including open-but-unsynced).
 */
export function watchConnection(provider) {
  let refusals = 0;
  let recreated = false;
  let stableTimer = null;
  let update = () => {};

  const state = () => {
    if (recreated) return 'recreated';
    if (!navigator.onLine) return 'offline';
    if (refusals >= REFUSALS_TO_FAIL) return 'failing';
    return provider.wsconnected && provider.synced ? 'connected' : 'reconnecting';
  };

  provider.on('status', () => update());
  provider.on('sync', (synced) => {
    clearTimeout(stableTimer);
    if (synced) {
      stableTimer = setTimeout(() => {
        refusals = 0;
        update();
      }, STABLE_MS);
    }
    update();
  });
  provider.on('connection-close', (event) => {
    clearTimeout(stableTimer);
    if (event && event.code === RECREATED) {
      recreated = true;
      provider.disconnect();
    }
    if (event && REFUSED.has(event.code)) refusals += 1;
    update();
  });
  // A dead socket can linger until its timeout: drop it when the browser goes offline, and on
  // 'online' replace whatever socket there is with a fresh one.
  window.addEventListener('offline', () => {
    provider.disconnect();
    update();
  });
  window.addEventListener('online', () => {
    if (recreated) return;
    provider.disconnect();
    provider.connect();
    update();
  });

  return {
    show(badge, text) {
      let shown = null;
      // role=status announces every text change, so the text is only touched when the state changes.
      update = (force = false) => {
        const next = state();
        if (next === shown && !force) return;
        shown = next;
        badge.dataset.state = next;
        text.textContent = t(next);
        badge.hidden = false;
      };
      onLangChange(() => update(true));
      update();
    },
  };
}
