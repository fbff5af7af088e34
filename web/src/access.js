// access.js — owns what the app tells people about access: why a link did not sign them in
// (`?signin=…`, from the server's redirect), and the pages shown without a session (401) or
// without access to a document (403). It never sees a token: the server takes those out of the address.
import { t, onLangChange, translate } from './i18n.js';

// The server's reasons (server/src/http/pages.rs) and their messages.
const SIGNIN_MESSAGES = {
  invalid: 'signinInvalid',
  revoked: 'signinRevoked',
  expired: 'signinExpired',
  full: 'signinFull',
  limited: 'signinLimited',
  failed: 'signinFailed',
};

/** Show the message for `?signin=` (if there is one) in `banner`, and take the parameter out of the address. */
export function showSigninResult(banner) {
  const url = new URL(location.href);
  const why = url.searchParams.get('signin');
  if (why === null) return;
  url.searchParams.delete('signin');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  banner.querySelector('#signin-text').dataset.i18n = SIGNIN_MESSAGES[why] ?? 'signinInvalid';
  translate(banner);
  banner.hidden = false;
  banner.querySelector('#signin-dismiss').addEventListener('click', () => {
    banner.hidden = true;
  });
}

/** The page for someone without a session: what Leitbild is, and how to get in. */
export function showNeedInvite(main) {
  main.replaceChildren(document.getElementById('tpl-need-invite').content.cloneNode(true));
  translate(main);
}

/**
 * The page for someone whose session does not reach document `docId` (or any document, when
 * null): revoked, expired, or a link for another one. `detail` is the server's own words.
 */
export function showNoAccess(main, docId, detail) {
  main.replaceChildren(document.getElementById('tpl-no-access').content.cloneNode(true));
  translate(main);
  main.querySelector('#no-access-back').hidden = docId === null;
  const said = main.querySelector('#no-access-detail');
  const render = () => {
    said.textContent = detail ? t('serverSaid', { msg: detail }) : '';
  };
  onLangChange(render);
  render();
}
