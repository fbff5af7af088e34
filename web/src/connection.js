// connection.js — owns the provider's link state: reacting to the browser going on/offline, the
// server's verdicts (close codes, and what the API says when the socket keeps failing), the
// connection badge, the notice that explains a connection that has ended for good, and the
// message that counts the changes made while the connection is down (kept on this device by
// y-indexeddb, sent by the provider once it is back).
import { api, docPath } from './api.js';
import { t, onLangChange, formatNumber } from './i18n.js';

// Close codes with which the server refuses what we sent (invalid data, too big, internal error).
const REFUSED = new Set([1007, 1009, 1011]);
// Close codes after which reconnecting cannot help (docs/protocol.md): access revoked or
// expired, the document deleted, the document created anew (our local copy must never be sent).
const ENDED = new Map([
  [4403, 'revoked'],
  [4404, 'deleted'],
  [4409, 'recreated'],
]);
// When the socket fails without such a code (a refused upgrade shows as 1006), the API says why.
const PROBE_TIMEOUT_MS = 3000;
const PROBE_VERDICTS = new Map([
  [401, 'signedOut'],
  [403, 'revoked'],
  [404, 'deleted'],
]);
// This many refusals in a row, without a connection lasting STABLE_MS in between, means our
// changes do not get through: say so instead of "reconnecting" forever.
const REFUSALS_TO_FAIL = 2;
const STABLE_MS = 10_000;
// The count of waiting changes is a live region: while someone types it is told at most this often.
const PENDING_QUIET_MS = 1000;
// States in which changes wait for the connection to come back. Not 'failing' (the server
// refuses them, so "will be sent" would not be true) nor the ended ones, which have a notice.
const WAITING = new Set(['offline', 'reconnecting']);
// What the notice offers for an ended connection.
const NOTICES = {
  recreated: { text: 'recreatedNotice', action: 'reload' },
  revoked: { text: 'revokedNotice', action: null },
  deleted: { text: 'deletedNotice', action: null },
  signedOut: { text: 'signedOutNotice', action: 'reconnect' },
};

/**
 * Start following `provider` for document `docId` at once (call right after creating it, so no
 * event is missed). `onEnded(state)` is called when the connection ends for good, and
 * `onEnded(null)` when a signed-out page connects again. Returns `{ show(badge, text, notice) }`
 * to render the state once the header badge and the notice exist.
 * States: offline (browser says so), connected (socket open and synced), failing (the server
 * keeps closing with REFUSED codes), the ended ones (recreated, revoked, deleted; signedOut,
 * which the person can mend by opening their link again) and reconnecting (anything else,
 * including open-but-unsynced).
 */
export function watchConnection(provider, docId, onEnded = () => {}) {
  let refusals = 0;
  let ended = null;
  let probing = false;
  let stableTimer = null;
  let update = () => {};
  // Changes made here since the link was last up: each local Y.Doc transaction counts once
  // (y-prosemirror makes one per keystroke or command). Updates from the provider or from
  // IndexedDB are applied as remote ones (transaction.local is false) and do not count. The
  // count starts again when the provider has synced, which sends everything that waited.
  let pending = 0;
  let showPending = () => {};
  provider.doc.on('update', (_update, _origin, _doc, transaction) => {
    if (!transaction?.local || (provider.wsconnected && provider.synced)) return;
    pending += 1;
    showPending();
  });

  const state = () => {
    if (ended) return ended;
    if (!navigator.onLine) return 'offline';
    if (refusals >= REFUSALS_TO_FAIL) return 'failing';
    return provider.wsconnected && provider.synced ? 'connected' : 'reconnecting';
  };

  const end = (why) => {
    if (ended === why) return;
    ended = why;
    provider.disconnect();
    onEnded(why);
    update();
  };

  // A socket closed without a word: ask the API whether we may still be here. A server that
  // cannot be reached says nothing, and reconnecting goes on.
  const probe = async () => {
    if (probing || ended || !navigator.onLine) return;
    probing = true;
    try {
      await api('GET', docPath(docId), undefined, { timeout: PROBE_TIMEOUT_MS });
    } catch (err) {
      if (PROBE_VERDICTS.has(err.status) && provider.shouldConnect) end(PROBE_VERDICTS.get(err.status));
    } finally {
      probing = false;
    }
  };

  provider.on('status', () => update());
  provider.on('sync', (synced) => {
    clearTimeout(stableTimer);
    if (synced) {
      pending = 0;
      stableTimer = setTimeout(() => {
        refusals = 0;
        update();
      }, STABLE_MS);
    }
    update();
  });
  provider.on('connection-close', (event) => {
    clearTimeout(stableTimer);
    // `event` is null when we closed the socket ourselves.
    if (event && ENDED.has(event.code)) end(ENDED.get(event.code));
    else if (event && REFUSED.has(event.code)) refusals += 1;
    else if (event) probe();
    update();
  });
  // A dead socket can linger until its timeout: drop it when the browser goes offline, and on
  // 'online' replace whatever socket there is with a fresh one.
  window.addEventListener('offline', () => {
    provider.disconnect();
    update();
  });
  window.addEventListener('online', () => {
    if (ended) return;
    provider.disconnect();
    provider.connect();
    update();
  });

  /** After "signed out": the person opened their link again (in another tab), so try once more. */
  const reconnect = () => {
    if (ended !== 'signedOut') return;
    ended = null;
    onEnded(null);
    provider.connect();
    update();
  };

  return {
    show(badge, text, notice) {
      let shown = null;
      // The message about waiting changes sits in the editor column beside the notice.
      const waiting = notice.parentElement.querySelector('#pending');
      const noticeText = notice.querySelector('#conn-notice-text');
      const action = notice.querySelector('#conn-notice-action');
      action.addEventListener('click', () => {
        if (ended === 'recreated') location.reload();
        else reconnect();
      });
      // role=status announces every text change, so the text is only touched when the state changes.
      update = (force = false) => {
        const next = state();
        if (next === shown && !force) return;
        shown = next;
        badge.dataset.state = next;
        text.textContent = t(next);
        badge.hidden = false;
        const explain = NOTICES[next];
        notice.hidden = !explain;
        if (explain) {
          noticeText.textContent = t(explain.text);
          action.hidden = explain.action === null;
          if (explain.action) action.textContent = t(explain.action);
        }
      };
      let quiet = null;
      let counted = -1;
      // While the connection is down: that changes stay here and how many wait. Gone once synced.
      const renderPending = () => {
        clearTimeout(quiet);
        quiet = null;
        if (!WAITING.has(shown) || (shown !== 'offline' && pending === 0)) {
          waiting.replaceChildren();
          counted = -1;
          return;
        }
        let [what, count] = waiting.children;
        if (!what) {
          what = document.createElement('p');
          count = document.createElement('p');
          what.className = 'pending-what';
          count.className = 'pending-count';
          waiting.replaceChildren(what, count);
        }
        // Unchanged text is left alone, or the live region might say it again.
        const set = (el, value) => el.textContent !== value && (el.textContent = value);
        set(what, t(shown === 'offline' ? 'pendingOffline' : 'pendingNoServer'));
        set(count, pending === 0 ? '' : t(pending === 1 ? 'pendingOne' : 'pendingMany', { n: formatNumber(pending) }));
        count.hidden = pending === 0;
        counted = pending;
      };
      showPending = () => {
        if (counted === -1 || counted === 0) renderPending();
        else quiet ??= setTimeout(renderPending, PENDING_QUIET_MS);
      };
      const updateBadge = update;
      update = (force = false) => {
        updateBadge(force);
        renderPending();
      };
      onLangChange(() => update(true));
      update();
    },
  };
}
