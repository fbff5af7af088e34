// i18n.js — owns every UI string (German default, English), the chosen language, and <html lang>.
import { readItem, writeItem } from './storage.js';

const STRINGS = {
  de: {
    appName: 'Leitbild',
    skipToContent: 'Zum Inhalt springen',
    language: 'Sprache',
    docsHeading: 'Dokumente',
    newDocLabel: 'Titel für ein neues Dokument',
    create: 'Anlegen',
    colTitle: 'Titel',
    colUpdated: 'Letzte Änderung',
    colSize: 'Größe',
    loading: 'Wird geladen …',
    noDocs: 'Noch keine Dokumente. Lege oben das erste an.',
    loadFailed: 'Die Dokumente konnten nicht geladen werden.',
    createFailed: 'Das Dokument konnte nicht angelegt werden: {msg}',
    titleRequired: 'Bitte gib einen Titel ein.',
    notFound: 'Dieses Dokument gibt es nicht.',
    backToList: 'Zur Dokumentenliste',
    toolbar: 'Formatierung',
    paragraph: 'Absatz',
    heading1: 'H1 Überschrift 1',
    heading2: 'H2 Überschrift 2',
    heading3: 'H3 Überschrift 3',
    bold: 'Fett (Strg+B)',
    italic: 'Kursiv (Strg+I)',
    bulletList: 'Aufzählung',
    orderedList: '1. Nummerierte Liste',
    blockquote: 'Zitat',
    undo: 'Rückgängig (Strg+Z)',
    redo: 'Wiederholen (Strg+Umschalt+Z)',
    editorLabel: 'Text des Leitbilds',
    hereNow: 'Jetzt dabei',
    you: '(du)',
    connected: 'Verbunden',
    reconnecting: 'Verbindung wird wiederhergestellt',
    offline: 'Offline',
    failing: 'Änderungen werden nicht gespeichert',
    listOffline: 'Keine Verbindung: Das ist die zuletzt geladene Liste.',
    recreated: 'Dokument wurde neu angelegt – bitte Seite neu laden',
    storageUnavailable: 'Dieser Browser speichert nichts lokal: Änderungen ohne Verbindung gehen beim Neuladen verloren.',
    badLink: 'Dieser Link ist ungültig; ein solches Dokument gibt es nicht.',
    unknownPerson: 'Unbekannt',
    counts: '{words} Wörter · {chars} Zeichen',
    countsOne: '1 Wort · {chars} Zeichen',
    nameTitle: 'Wie heißt du?',
    nameHint: 'Dein Name wird den anderen neben deiner Schreibmarke angezeigt.',
    nameLabel: 'Anzeigename',
    nameSave: 'Weiter',
    changeName: 'Namen ändern: {name}',
    guest: 'Gast',
  },
  en: {
    appName: 'Leitbild',
    skipToContent: 'Skip to content',
    language: 'Language',
    docsHeading: 'Documents',
    newDocLabel: 'Title for a new document',
    create: 'Create',
    colTitle: 'Title',
    colUpdated: 'Last change',
    colSize: 'Size',
    loading: 'Loading …',
    noDocs: 'No documents yet. Create the first one above.',
    loadFailed: 'The documents could not be loaded.',
    createFailed: 'The document could not be created: {msg}',
    titleRequired: 'Please enter a title.',
    notFound: 'This document does not exist.',
    backToList: 'Back to the document list',
    toolbar: 'Formatting',
    paragraph: 'Paragraph',
    heading1: 'H1 Heading 1',
    heading2: 'H2 Heading 2',
    heading3: 'H3 Heading 3',
    bold: 'Bold (Ctrl+B)',
    italic: 'Italic (Ctrl+I)',
    bulletList: 'Bullet list',
    orderedList: '1. Numbered list',
    blockquote: 'Quote',
    undo: 'Undo (Ctrl+Z)',
    redo: 'Redo (Ctrl+Shift+Z)',
    editorLabel: 'Mission statement text',
    hereNow: 'Here now',
    you: '(you)',
    connected: 'Connected',
    reconnecting: 'Reconnecting',
    offline: 'Offline',
    failing: 'Changes are not being saved',
    listOffline: 'No connection: this is the list as last loaded.',
    recreated: 'Document was created anew – please reload the page',
    storageUnavailable: 'This browser keeps nothing locally: changes made without a connection are lost on reload.',
    badLink: 'This link is broken; there is no such document.',
    unknownPerson: 'Unknown',
    counts: '{words} words · {chars} characters',
    countsOne: '1 word · {chars} characters',
    nameTitle: 'What is your name?',
    nameHint: 'Your name is shown to the others next to your cursor.',
    nameLabel: 'Display name',
    nameSave: 'Continue',
    changeName: 'Change name: {name}',
    guest: 'Guest',
  },
};

const STORAGE_KEY = 'leitbild.lang';
const listeners = new Set();

const known = (code) => code === 'de' || code === 'en';
let current = known(readItem(STORAGE_KEY)) ? readItem(STORAGE_KEY) : 'de';

/** The active language code ('de' or 'en'). */
export const lang = () => current;

/** Look up a string and fill `{name}` placeholders from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.de[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** Switch language, remember it, relabel the static markup and tell subscribers. */
export function setLang(code) {
  if (!known(code) || code === current) return;
  current = code;
  writeItem(STORAGE_KEY, code);
  translate(document);
  for (const fn of listeners) fn(code);
}

/** Call `fn` after every language change; returns an unsubscribe function. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Fill text (data-i18n) and aria-label/title (data-i18n-aria) of everything under `root`. */
export function translate(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAria));
    el.title = t(el.dataset.i18nAria);
  }
}

/** Locale-aware formatting of a unix-ms timestamp. */
export const formatDate = (ms) =>
  new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));

/** Locale-aware formatting of a byte count. */
export function formatSize(bytes) {
  if (bytes < 1024) return new Intl.NumberFormat(current, { style: 'unit', unit: 'byte' }).format(bytes);
  const unit = bytes < 1024 * 1024 ? 'kilobyte' : 'megabyte';
  const value = bytes / (unit === 'kilobyte' ? 1024 : 1024 * 1024);
  return new Intl.NumberFormat(current, { style: 'unit', unit, maximumFractionDigits: 1 }).format(value);
}

/** Locale-aware integer formatting. */
export const formatNumber = (n) => new Intl.NumberFormat(current).format(n);
