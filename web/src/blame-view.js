// blame-view.js — owns drawing who wrote what (GET /api/docs/{doc}/blame): the text, read-only,
// with each passage coloured by its author, its author and time on hover, and a legend. It
// fetches nothing; text from the server is only ever set as text.
import { t, formatDate } from './i18n.js';

/** How many author colours there are (`.blame-a0` … in style.css); more authors share them in turn. */
const COLORS = 8;

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

/**
 * Draw `blame` (`{spans, authors}`) into `text`, with the legend in `legend`. `kinds` are the
 * editor's blocks as `{kind, text}` (a CSS class and the block's text): a block whose text is
 * the same in both is drawn as that kind (a heading, a list item), any other as a paragraph.
 */
export function renderBlame(text, legend, blame, kinds = []) {
  const authors = Array.isArray(blame?.authors) ? blame.authors : [];
  const colour = new Map(authors.map((author, i) => [author.id, i % COLORS]));
  legend.replaceChildren(
    ...authors.map((author) => {
      const item = el('li');
      item.append(el('span', `blame-swatch blame-a${colour.get(author.id)}`), el('span', '', author.name || t('unknownPerson')));
      return item;
    }),
  );

  const spans = Array.isArray(blame?.spans) ? blame.spans : [];
  const blocks = new Map();
  for (const span of spans) {
    if (!Number.isInteger(span.block) || typeof span.text !== 'string') continue;
    if (!blocks.has(span.block)) blocks.set(span.block, []);
    blocks.get(span.block).push(span);
  }
  const out = [];
  for (const [index, parts] of [...blocks.entries()].sort((a, b) => a[0] - b[0])) {
    const whole = parts.map((span) => span.text).join('');
    const known = kinds[index];
    const same = known && known.text === whole;
    const block = el('p', `blame-block ${same ? known.kind : 'k-p'}`);
    if (same && Number.isInteger(known.n)) block.dataset.n = String(known.n);
    let previous;
    for (const span of parts) {
      const author = span.author && typeof span.author === 'object' ? span.author : null;
      const who = author?.name || t('blameUnknown');
      // Colour is for the eyes; screen readers hear the name wherever the author changes.
      if (who !== previous) block.append(el('span', 'visually-hidden', `${t('blameBy', { name: who })} `));
      previous = who;
      const piece = el('span', author ? `blame-a${colour.get(author.id) ?? 0}` : 'blame-unknown', span.text);
      const at = typeof span.at === 'string' ? Date.parse(span.at) : NaN;
      piece.title = Number.isFinite(at) ? t('blameSpan', { name: who, date: formatDate(at) }) : who;
      block.append(piece);
    }
    out.push(block);
  }
  if (out.length === 0) out.push(el('p', 'docs-state', t('blameEmpty')));
  text.replaceChildren(...out);
}
