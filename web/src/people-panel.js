// people-panel.js — owns the moderators' panel "Personen und Links": the document's invites and
// their members, the form that creates a link, the new link shown once (copy button, QR code),
// revoking links and single members, and the document's audit log. It holds no token beyond
// the one it has just been given; the server decides what a moderator may do.
import QRCode from 'qrcode';
import { api, docPath } from './api.js';
import { t, onLangChange, formatDate, formatDay, translate } from './i18n.js';
import { ROLES, MAX_NAME } from './me.js';
import { confirmAction } from './dialogs.js';

const ROLE_LABELS = { reader: 'roleReader', editor: 'roleEditor', moderator: 'roleModerator', admin: 'roleAdmin' };
const ROLE_CHOICES = { reader: 'roleReaderLong', editor: 'roleEditorLong', moderator: 'roleModeratorLong' };
const KIND_LABELS = { personal: 'kindPersonal', group: 'kindGroup' };
const STATUS_LABELS = { active: 'statusActive', expired: 'statusExpired', revoked: 'statusRevoked' };
const MAX_GROUP = 120;
const MAX_PEOPLE = 100_000;

const roleLabel = (role) => t(ROLE_LABELS[role] ?? 'unknownPerson');
const kindLabel = (kind) => t(KIND_LABELS[kind] ?? 'kindPersonal');
/** How an invite is named in lists and messages: the person, else the group, else its kind. */
const inviteWho = (invite) => invite.name || invite.group || kindLabel(invite.kind);
/** An RFC 3339 time as unix ms; null when absent or unreadable. */
const msOf = (time) => {
  const ms = typeof time === 'string' ? Date.parse(time) : NaN;
  return Number.isFinite(ms) ? ms : null;
};

let panel = null;

/**
 * Open the panel for document `docId`, as someone whose role there is `myRole` (moderator or
 * admin). `opener` gets the focus back when the panel closes.
 */
export function openPeoplePanel(docId, myRole, opener) {
  panel ??= createPanel(docId, myRole);
  panel.open(opener);
}

function createPanel(docId, myRole) {
  const dialog = document.getElementById('people-panel');
  const $ = (selector) => dialog.querySelector(selector);
  const form = $('#invite-form');
  const fields = {
    name: $('#invite-name'),
    group: $('#invite-group'),
    role: $('#invite-role'),
    expires: $('#invite-expires'),
    max: $('#invite-max'),
  };
  let invites = null;
  let invitesError = null;
  let audit = null;
  let auditError = null;
  let opener = null;

  const kind = () => form.querySelector('input[name=kind]:checked').value;

  // The role choices: up to my own role; nobody invites an admin.
  const renderRoles = () => {
    const chosen = fields.role.value || 'editor';
    const allowed = ROLES.filter((role) => role !== 'admin' && ROLES.indexOf(role) <= ROLES.indexOf(myRole));
    fields.role.replaceChildren(
      ...allowed.map((role) => {
        const option = document.createElement('option');
        option.value = role;
        option.textContent = t(ROLE_CHOICES[role]);
        // What the form returns to after a reset.
        option.defaultSelected = role === 'editor';
        return option;
      }),
    );
    fields.role.value = allowed.includes(chosen) ? chosen : allowed[allowed.length - 1];
  };

  // A personal link names its person; a group link may limit how many join.
  const renderKind = () => {
    const group = kind() === 'group';
    $('#field-name').hidden = group;
    $('#field-max').hidden = !group;
    $('#kind-hint').textContent = t(group ? 'kindGroupHint' : 'kindPersonalHint');
  };

  const setError = (input, message) => {
    const error = $(`#${input.id}-error`);
    error.textContent = message;
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
  };

  /** The request for the form as filled in, or null after marking what is wrong (focus on the first). */
  const request = () => {
    const problems = [];
    const check = (input, message) => {
      setError(input, message ?? '');
      if (message) problems.push(input);
    };
    const body = { role: fields.role.value, kind: kind() };
    const name = fields.name.value.trim();
    const group = fields.group.value.trim();
    if (body.kind === 'personal') {
      check(fields.name, name ? null : t('inviteNameRequired'));
      body.name = name.slice(0, MAX_NAME);
    } else {
      setError(fields.name, '');
    }
    if (group) body.group = group.slice(0, MAX_GROUP);

    // A date means: valid through the end of that day, in the moderator's time zone.
    const day = fields.expires.value.match(/^(\d{4})-(\d{2})-(\d{2})$/);
    if (fields.expires.value === '' && !fields.expires.validity.badInput) {
      check(fields.expires, null);
    } else if (!day) {
      check(fields.expires, t('inviteExpiresInvalid'));
    } else {
      const end = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]), 23, 59, 59);
      check(fields.expires, end.getTime() <= Date.now() ? t('inviteExpiresPast') : null);
      body.expires_at = end.toISOString();
    }

    const max = fields.max.value.trim();
    if (body.kind === 'group' && max !== '') {
      const n = /^\d+$/.test(max) ? Number(max) : NaN;
      check(fields.max, n >= 1 && n <= MAX_PEOPLE ? null : t('inviteMaxInvalid'));
      body.max_people = n;
    } else {
      setError(fields.max, '');
    }
    if (problems.length > 0) {
      problems[0].focus();
      return null;
    }
    return body;
  };

  form.addEventListener('change', (event) => {
    if (event.target.name === 'kind') renderKind();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = $('#invite-error');
    error.textContent = '';
    const body = request();
    if (body === null) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const created = await api('POST', docPath(docId, '/invites'), body);
      await showLink(created);
      form.reset();
      renderRoles();
      renderKind();
      refresh();
    } catch (err) {
      error.textContent = t('inviteFailed', { msg: err.status === 0 ? t('noConnection') : err.message });
    } finally {
      button.disabled = false;
    }
  });

  /** The new link, this once: as text with a copy button, and as a QR code. */
  const showLink = async (created) => {
    const result = $('#link-result');
    const svg = await QRCode.toString(created.link, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    $('#link-output').value = created.link;
    $('#link-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    $('#link-qr').alt = t('qrAlt');
    $('#copy-state').textContent = '';
    result.dataset.who = inviteWho(created);
    $('#link-result-title').textContent = t('linkReady', { who: result.dataset.who });
    result.hidden = false;
    $('#link-result-title').focus();
  };
  const hideLink = () => {
    $('#link-result').hidden = true;
    $('#link-output').value = '';
    $('#link-qr').removeAttribute('src');
  };

  $('#copy-link').addEventListener('click', async () => {
    const output = $('#link-output');
    const state = $('#copy-state');
    try {
      await navigator.clipboard.writeText(output.value);
      state.textContent = t('copied');
    } catch {
      // Without the clipboard API (pages over plain http): the old way, from the selected field.
      output.select();
      state.textContent = document.execCommand('copy') ? t('copied') : t('copyFailed');
    }
  });

  const revokeInvite = async (invite) => {
    if (!(await confirmAction(t('revokeInviteConfirm', { who: inviteWho(invite) }), t('revokeYes')))) return;
    await revoke(docPath(docId, `/invites/${encodeURIComponent(invite.id)}`));
  };
  const revokeMember = async (invite, member) => {
    if (!(await confirmAction(t('revokePersonConfirm', { who: member.name }), t('revokeYes')))) return;
    await revoke(docPath(docId, `/invites/${encodeURIComponent(invite.id)}/people/${encodeURIComponent(member.person)}`));
  };
  const revoke = async (path) => {
    const state = $('#invites-state');
    try {
      await api('DELETE', path);
    } catch (err) {
      state.textContent = t('revokeFailed', { msg: err.status === 0 ? t('noConnection') : err.message });
      return;
    }
    await refresh();
  };

  const renderInvites = () => {
    const state = $('#invites-state');
    const list = $('#invites');
    if (invitesError !== null) state.textContent = t('invitesFailed', { msg: invitesError });
    else if (invites === null) state.textContent = t('loading');
    else state.textContent = invites.length === 0 ? t('noInvites') : '';
    list.replaceChildren(...(invites ?? []).map(renderInvite));
  };

  const renderInvite = (invite) => {
    const item = document.createElement('li');
    item.className = 'invite';
    item.dataset.inviteId = invite.id;
    item.dataset.status = invite.status;

    const head = document.createElement('p');
    head.className = 'invite-head';
    const who = document.createElement('strong');
    who.className = 'invite-who';
    who.textContent = inviteWho(invite);
    head.append(who);
    if (invite.name && invite.group) head.append(` (${invite.group})`);
    const status = document.createElement('span');
    status.className = 'status';
    status.dataset.status = invite.status;
    status.textContent = t(STATUS_LABELS[invite.status] ?? 'statusActive');
    head.append(' ', status);

    const facts = [kindLabel(invite.kind), roleLabel(invite.role)];
    const expires = msOf(invite.expires_at);
    facts.push(expires === null ? t('noExpiry') : t('expiresOn', { date: formatDate(expires) }));
    if (invite.kind === 'group') {
      facts.push(
        invite.max_people ? t('peopleCount', { n: invite.people, max: invite.max_people }) : t('peopleCountOpen', { n: invite.people }),
      );
    }
    const meta = document.createElement('p');
    meta.className = 'invite-meta';
    meta.textContent = facts.join(' · ');
    const made = document.createElement('p');
    made.className = 'invite-meta';
    made.textContent = t('createdBy', { name: invite.created_by?.name ?? t('unknownPerson'), date: formatDate(msOf(invite.created_at) ?? 0) });
    item.append(head, meta, made);

    if (invite.status === 'active') {
      item.append(revokeButton(t('revokeInvite', { who: inviteWho(invite) }), () => revokeInvite(invite)));
    }
    const members = Array.isArray(invite.members) ? invite.members : [];
    if (members.length > 0) {
      const list = document.createElement('ul');
      list.className = 'members';
      for (const member of members) {
        const entry = document.createElement('li');
        const name = document.createElement('span');
        name.className = 'member-name';
        name.textContent = member.name;
        const joined = msOf(member.joined_at);
        entry.append(name, ` · ${joined === null ? '' : t('joinedOn', { date: formatDay(joined) })}`);
        if (member.revoked_at) {
          const gone = document.createElement('span');
          gone.className = 'status';
          gone.dataset.status = 'revoked';
          gone.textContent = t('memberRevoked');
          entry.append(' ', gone);
        } else if (invite.status === 'active') {
          entry.append(revokeButton(t('revokePerson', { who: member.name }), () => revokeMember(invite, member)));
        }
        list.append(entry);
      }
      item.append(list);
    }
    return item;
  };

  const revokeButton = (label, run) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'revoke';
    button.textContent = t('revoke');
    button.setAttribute('aria-label', label);
    button.addEventListener('click', run);
    return button;
  };

  const renderAudit = () => {
    const state = $('#audit-state');
    if (auditError !== null) state.textContent = t('auditFailed', { msg: auditError });
    else if (audit === null) state.textContent = t('loading');
    else state.textContent = audit.length === 0 ? t('auditEmpty') : '';
    $('#audit').replaceChildren(
      ...(audit ?? []).map((entry) => {
        const item = document.createElement('li');
        const at = msOf(entry.at) ?? 0;
        const time = document.createElement('time');
        time.dateTime = new Date(at).toISOString();
        time.textContent = formatDate(at);
        // Shown side by side; read as "time: event".
        const gap = document.createElement('span');
        gap.className = 'visually-hidden';
        gap.textContent = ': ';
        const text = document.createElement('span');
        text.textContent = describeEvent(entry);
        item.append(time, gap, text);
        return item;
      }),
    );
  };

  const refresh = async () => {
    const [loadedInvites, loadedAudit] = await Promise.allSettled([
      api('GET', docPath(docId, '/invites')),
      api('GET', docPath(docId, '/audit')),
    ]);
    invites = loadedInvites.status === 'fulfilled' && Array.isArray(loadedInvites.value) ? loadedInvites.value : invites;
    invitesError = loadedInvites.status === 'rejected' ? loadedInvites.reason.message : null;
    // Newest first, as the server sends them; sorted again so it holds whatever the order.
    audit = loadedAudit.status === 'fulfilled' && Array.isArray(loadedAudit.value)
      ? [...loadedAudit.value].sort((a, b) => (msOf(b.at) ?? 0) - (msOf(a.at) ?? 0) || b.id - a.id)
      : audit;
    auditError = loadedAudit.status === 'rejected' ? loadedAudit.reason.message : null;
    renderInvites();
    renderAudit();
  };

  $('#panel-close').addEventListener('click', () => dialog.close());
  // The link is shown once: closing the panel forgets it.
  dialog.addEventListener('close', () => {
    hideLink();
    opener?.focus();
  });
  onLangChange(() => {
    renderRoles();
    renderKind();
    renderInvites();
    renderAudit();
    const result = $('#link-result');
    if (!result.hidden) {
      $('#link-result-title').textContent = t('linkReady', { who: result.dataset.who });
      $('#link-qr').alt = t('qrAlt');
    }
  });
  translate(dialog);
  renderRoles();
  renderKind();

  return {
    open(from) {
      opener = from;
      invites = null;
      audit = null;
      renderInvites();
      renderAudit();
      dialog.showModal();
      refresh();
    },
  };
}

/** One audit entry in words: who did what, with the details the server recorded. */
function describeEvent(entry) {
  const actor = entry.actor?.name ? entry.actor.name + (entry.actor.group ? ` (${entry.actor.group})` : '') : t('unknownPerson');
  const d = entry.detail && typeof entry.detail === 'object' ? entry.detail : {};
  const who = d.name || d.group || (d.person !== undefined ? `#${d.person}` : '—');
  switch (entry.event) {
    case 'invite_created':
      return t('ev_invite_created', { actor, what: `${d.name || d.group || kindLabel(d.kind)} (${kindLabel(d.kind)}, ${roleLabel(d.role)})` });
    case 'invite_revoked':
      return t('ev_invite_revoked', { actor, who });
    case 'person_revoked':
      return t('ev_person_revoked', { actor, who });
    case 'doc_renamed':
      return t('ev_doc_renamed', { actor, from: d.from ?? '', to: d.to ?? '' });
    case 'version_named':
      return t('ev_version_named', { actor, name: d.name ?? '' });
    case 'version_restored':
      return t(d.changed === false ? 'ev_version_restored_unchanged' : 'ev_version_restored', { actor, name: d.name ?? '' });
    case 'version_adopted':
      return t('ev_version_adopted', { actor, title: d.title ?? '', entry: d.entry ?? '' });
    case 'person_joined':
    case 'doc_created':
    case 'doc_deleted':
    case 'doc_restored':
    case 'doc_purged':
    case 'admin_link_issued':
      return t(`ev_${entry.event}`, { actor });
    default:
      return t('ev_other', { actor, event: String(entry.event) });
  }
}
