// diff-view.js — owns drawing a diff from GET /api/docs/{doc}/diff: the summary (blocks and
// words added and removed, who changed how much), the inline view (insertions underlined,
// deletions struck through, who did it in a note beside each block and on hover) and the side
// by side view. Everything from the server is set as text; it fetches nothing and keeps no state.
import { t, formatNumber, formatPercent } from './i18n.js';

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** The names in a segment's or block's `authors` ([{id, name}]), joined; '' when none is known. */
const namesOf = (authors) =>
  [...new Set((Array.isArray(authors) ? authors : []).map((a) => (typeof a?.name === 'string' ? a.name : '')).filter(Boolean))].join(', ');

/** The authors of everything that changed in `entry`: its inserted and deleted text and changed formatting. */
function blockAuthors(entry) {
  const seen = new Map();
  for (const segment of entry.segments ?? []) {
    if (segment.op === 'equal' && !segment.marks_from) continue;
    for (const author of segment.authors ?? []) if (author?.id && !seen.has(author.id)) seen.set(author.id, author);
  }
  return [...seen.values()];
}

/** A block kind from the server (`"paragraph"`, `{heading: 2}`, `{list_item: {...}}`, …) as a CSS class. */
export function kindClass(kind) {
  if (kind && typeof kind === 'object') {
    if (Number.isInteger(kind.heading)) return `k-h${Math.min(Math.max(kind.heading, 1), 6)}`;
    if (kind.list_item) return kind.list_item.ordered ? 'k-ol' : 'k-li';
  }
  return { blockquote: 'k-quote', code_block: 'k-code', horizontal_rule: 'k-hr' }[kind] ?? 'k-p';
}

/** A block kind in words, for "Absatz → Überschrift 2". */
function kindName(kind) {
  if (kind && typeof kind === 'object') {
    if (Number.isInteger(kind.heading)) return t('blockHeading', { level: kind.heading });
    if (kind.list_item) return t('blockListItem');
  }
  const key = { blockquote: 'blockQuote', code_block: 'blockCode', horizontal_rule: 'blockRule' }[kind];
  return t(key ?? 'blockParagraph');
}

const sameKind = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** `text` inside the elements for its marks (bold, italic, …). */
function marked(text, marks) {
  let node = document.createTextNode(text);
  for (const mark of Array.isArray(marks) ? marks : []) {
    const tag = { bold: 'strong', italic: 'em', strike: 's', underline: 'u', code: 'code' }[String(mark).split('--')[0]];
    if (!tag) continue;
    const wrap = document.createElement(tag);
    wrap.append(node);
    node = wrap;
  }
  return node;
}

/** One segment as inline content: `ins`, `del`, or the plain (maybe reformatted) text. */
function segmentNode(segment) {
  const text = typeof segment.text === 'string' ? segment.text : '';
  const who = namesOf(segment.authors);
  if (segment.op === 'insert' || segment.op === 'delete') {
    const inserted = segment.op === 'insert';
    const node = el(inserted ? 'ins' : 'del');
    node.title = who ? t(inserted ? 'diffInsertedBy' : 'diffDeletedBy', { who }) : t(inserted ? 'diffInserted' : 'diffDeleted');
    // Screen readers do not all announce ins and del: say it.
    node.append(el('span', 'visually-hidden', t(inserted ? 'diffSrInsert' : 'diffSrDelete')), marked(text, segment.marks));
    return node;
  }
  if (segment.marks_from) {
    const node = el('span', 'diff-format');
    node.title = who ? t('diffFormatBy', { who }) : t('diffFormat');
    node.append(marked(text, segment.marks));
    return node;
  }
  return marked(text, segment.marks);
}

/** The note beside a changed block: what happened and who did it. */
function blockNote(entry) {
  if (entry.op === 'equal') return null;
  const who = namesOf(blockAuthors(entry));
  const parts = [];
  if (entry.op === 'move') {
    parts.push(t('diffMoved'));
    if (who) parts.push(t('diffChangedBy', { who }));
  } else {
    const key = { insert: 'diffInserted', delete: 'diffDeleted', change: 'diffChanged' }[entry.op] ?? 'diffChanged';
    parts.push(who ? t(`${key}By`, { who }) : t(key));
  }
  if (entry.op !== 'insert' && entry.op !== 'delete' && !sameKind(entry.kind_from, entry.kind_to)) {
    parts.push(t('diffKindChange', { from: kindName(entry.kind_from), to: kindName(entry.kind_to) }));
  }
  const note = el('p', 'diff-note', parts.join(' · '));
  return note;
}

/** The entries to show: all of them, or only the changed ones with a count of what was left out between. */
function visible(blocks, onlyChanges) {
  if (!onlyChanges) return blocks.map((entry) => ({ entry }));
  const out = [];
  let skipped = 0;
  for (const entry of blocks) {
    if (entry.op === 'equal') {
      skipped += 1;
      continue;
    }
    if (skipped > 0) out.push({ skipped });
    skipped = 0;
    out.push({ entry });
  }
  if (skipped > 0) out.push({ skipped });
  return out;
}

const skippedNote = (n) => el('p', 'diff-skipped', n === 1 ? t('diffUnchangedOne') : t('diffUnchanged', { n: formatNumber(n) }));

/**
 * The number each item of a numbered list shows, by block index, on one side of the diff: `key`
 * ('from' or 'to') names the side, `kindKey` its kind. A run of list items counts from 1 at each
 * depth; any other block ends the run.
 */
export function listNumbers(blocks, key, kindKey) {
  const kinds = new Map();
  for (const entry of blocks) {
    const index = entry[key];
    if (Number.isInteger(index) && !kinds.has(index)) kinds.set(index, entry[kindKey]);
  }
  const numbers = new Map();
  let counts = [];
  for (const [index, kind] of [...kinds].sort((a, b) => a[0] - b[0])) {
    const item = kind && typeof kind === 'object' ? kind.list_item : null;
    if (!item) {
      counts = [];
      continue;
    }
    const depth = Number.isInteger(item.depth) ? Math.min(Math.max(item.depth, 0), 32) : 0;
    counts.length = depth + 1; // a shallower item ends the deeper lists
    counts[depth] = item.ordered ? (counts[depth] ?? 0) + 1 : 0;
    if (item.ordered) numbers.set(index, counts[depth]);
  }
  return numbers;
}

/** A block's text from the `side` ('from', 'to' or 'both') of its segments; `numbers` from `listNumbers` per side. */
function blockBody(entry, side, numbers) {
  const kind = side === 'from' ? entry.kind_from : entry.kind_to ?? entry.kind_from;
  const body = el('div', `diff-text ${kindClass(kind)}`);
  const n = side === 'from' || !Number.isInteger(entry.to) ? numbers.from.get(entry.from) : numbers.to.get(entry.to);
  if (n !== undefined) body.dataset.n = String(n);
  for (const segment of entry.segments ?? []) {
    if (side === 'from' && segment.op === 'insert') continue;
    if (side === 'to' && segment.op === 'delete') continue;
    body.append(segmentNode(segment));
  }
  return body;
}

/** Draw `diff` into `container` as `mode` ('inline' or 'sides'); `labels` name the two points. */
export function renderDiff(container, diff, { mode, onlyChanges, labels }) {
  const blocks = Array.isArray(diff?.blocks) ? diff.blocks : [];
  if (!blocks.some((entry) => entry.op !== 'equal')) {
    container.replaceChildren(el('p', 'diff-none', t('diffNone')));
    return;
  }
  const shown = visible(blocks, onlyChanges);
  const numbers = { from: listNumbers(blocks, 'from', 'kind_from'), to: listNumbers(blocks, 'to', 'kind_to') };
  if (mode === 'sides') {
    container.replaceChildren(sideBySide(shown, labels, numbers));
    return;
  }
  const list = el('div', 'diff-inline');
  for (const { entry, skipped } of shown) {
    if (skipped) {
      list.append(skippedNote(skipped));
      continue;
    }
    const block = el('div', `diff-block op-${entry.op}`);
    const note = blockNote(entry);
    if (note) block.append(note);
    block.append(blockBody(entry, 'both', numbers));
    list.append(block);
  }
  container.replaceChildren(list);
}

function sideBySide(shown, labels, numbers) {
  const table = el('table', 'diff-sides');
  const head = el('thead');
  const row = el('tr');
  row.append(el('th', '', labels.from), el('th', '', labels.to));
  row.querySelectorAll('th').forEach((th) => th.setAttribute('scope', 'col'));
  head.append(row);
  const body = el('tbody');
  for (const { entry, skipped } of shown) {
    const tr = el('tr');
    if (skipped) {
      const cell = el('td', '');
      cell.colSpan = 2;
      cell.append(skippedNote(skipped));
      tr.append(cell);
      body.append(tr);
      continue;
    }
    tr.className = `op-${entry.op}`;
    const left = el('td', entry.from === null || entry.from === undefined ? 'diff-empty' : '');
    const right = el('td', entry.to === null || entry.to === undefined ? 'diff-empty' : '');
    if (left.className !== 'diff-empty') left.append(blockBody(entry, 'from', numbers));
    else left.append(el('span', 'visually-hidden', t('diffAbsent')));
    if (right.className !== 'diff-empty') {
      const note = blockNote(entry);
      if (note) right.append(note);
      right.append(blockBody(entry, 'to', numbers));
    } else {
      const note = blockNote(entry);
      if (note) left.prepend(note);
      right.append(el('span', 'visually-hidden', t('diffAbsent')));
    }
    tr.append(left, right);
    body.append(tr);
  }
  table.append(head, body);
  const scroll = el('div', 'table-scroll');
  scroll.append(table);
  return scroll;
}

/** Draw the diff's summary into `container`: counts, then each author's share. */
export function renderSummary(container, diff) {
  const s = diff?.summary ?? {};
  const n = (value) => formatNumber(Number.isFinite(value) ? value : 0);
  const blocks = el('p', '', t('diffBlocks', { added: n(s.blocks_added), removed: n(s.blocks_removed), changed: n(s.blocks_changed), moved: n(s.blocks_moved) }));
  const words = el('p', '', t('diffWords', { added: n(s.words_added), removed: n(s.words_removed) }));
  const parts = [blocks, words];
  const shares = Array.isArray(s.authors) ? s.authors : [];
  if (shares.length > 0) {
    parts.push(el('h4', '', t('diffWho')));
    const list = el('ul', 'diff-authors');
    for (const share of shares) {
      const item = el('li');
      const name = el('strong', 'diff-author', share.author?.name || t('unknownPerson'));
      item.append(
        name,
        `: ${t('diffShare', { added: n(share.words_added), removed: n(share.words_removed), share: formatPercent(share.share ?? 0) })}`,
      );
      list.append(item);
    }
    parts.push(list);
  }
  container.replaceChildren(...parts);
}
