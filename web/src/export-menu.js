// export-menu.js — owns printing and downloading a document: the "Drucken / Herunterladen" menu in
// the header and the heading that only a printout shows (title, today's date, a draft mark).
// The rendered texts come from the server (GET /api/docs/{doc}/text); nothing is rendered here.
import { t, lang, onLangChange, translate } from './i18n.js';
import { wireMenu } from './menu-button.js';

const FORMATS = [
  { format: 'md', key: 'exportMarkdown', ext: 'md', type: 'text/markdown' },
  { format: 'html', key: 'exportHtml', ext: 'html', type: 'text/html' },
  { format: 'txt', key: 'exportText', ext: 'txt', type: 'text/plain' },
];

/** Today as the printout shows it: 01.12.2026 in German, 01/12/2026 in English. */
const today = () => new Intl.DateTimeFormat(lang() === 'de' ? 'de-DE' : 'en-GB', { day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date());

/** A file name from the title: letters and digits kept (umlauts too), the rest one hyphen. */
export const fileName = (title, ext) => `${title.replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '') || 'Leitbild'}.${ext}`;

/**
 * The printout's heading, placed before the text in `column`: shown by the print stylesheet only.
 * The date is today's, also when the page stayed open overnight.
 */
export function printHeader(column, title) {
  const head = document.createElement('header');
  head.className = 'print-head';
  const name = document.createElement('p');
  name.className = 'print-title';
  name.textContent = title;
  const meta = document.createElement('p');
  meta.className = 'print-meta';
  const mark = document.createElement('span');
  mark.className = 'print-mark';
  const date = document.createElement('span');
  meta.append(mark, ' · ', date);
  head.append(name, meta);
  const render = () => {
    mark.textContent = t('printDraft');
    date.textContent = t('printDate', { date: today() });
  };
  render();
  onLangChange(render);
  window.addEventListener('beforeprint', render);
  column.querySelector('#editor').before(head);
}

/** Ask the server for the text in `format` and save it as a file; the promise rejects on failure. */
async function download(docId, title, { format, ext, type }) {
  const res = await fetch(`/api/docs/${encodeURIComponent(docId)}/text?format=${format}`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(String(res.status));
  let text = await res.text();
  // The server's HTML is the document body: a saved file should open as a page of its own.
  if (format === 'html' && !/^\s*<!doctype/i.test(text)) {
    const safeTitle = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    text = `<!doctype html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n<title>${safeTitle}</title>\n</head>\n<body>\n${text}\n</body>\n</html>\n`;
  }
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName(title, ext);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The "Drucken / Herunterladen" menu button, appended to the header `slot`. */
export function wireExport(slot, docId, title) {
  const wrap = document.createElement('div');
  wrap.className = 'export';
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'export-button';
  button.className = 'export-button';
  button.dataset.i18n = 'exportButton';
  const menu = document.createElement('div');
  menu.className = 'menu menu-end';
  menu.id = 'export-menu';
  menu.setAttribute('role', 'menu');
  menu.setAttribute('aria-labelledby', 'export-button');
  const item = (key, run) => {
    const entry = document.createElement('button');
    entry.type = 'button';
    entry.setAttribute('role', 'menuitem');
    entry.dataset.i18n = key;
    entry.addEventListener('click', run);
    return entry;
  };
  const status = document.createElement('p');
  status.className = 'export-status';
  status.setAttribute('role', 'status');
  const save = async (format) => {
    status.textContent = '';
    try {
      await download(docId, title, format);
    } catch {
      status.textContent = t('exportFailed');
    }
  };
  menu.append(item('exportPrint', () => setTimeout(() => window.print())), ...FORMATS.map((f) => item(f.key, () => save(f))));
  wrap.append(button, menu, status);
  slot.append(wrap);
  translate(wrap);
  wireMenu(button, menu);
}
