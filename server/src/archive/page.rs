//! The archive's public HTML pages: the list of adopted texts, one adopted text ready to
//! print, the comparison of two editions (and the rendering of a [`Diff`] for it), and
//! the page for an unknown entry. Also the style sheet and script those pages load.
//!
//! Pure: every function takes entries and returns a complete document as a `String`. No
//! I/O, no axum; the HTTP layer picks the [`Lang`], loads entries and sets status codes.
//! Every value that comes from an entry (titles, names, notes, diff text) goes through
//! [`escape`]; only `Frozen.html`, sanitized by `render` when the text was frozen, and the
//! diff HTML built here are embedded as they are.
//!
//! The server sends `script-src 'self'; style-src 'self'` (`http::CSP`), so these pages
//! carry no inline `<style>` or `<script>` and no `onclick`: they link [`STYLESHEET`] and
//! [`SCRIPT`], which the HTTP layer serves at [`STYLESHEET_PATH`] and [`SCRIPT_PATH`].

use std::fmt::Write as _;
use std::sync::LazyLock;

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use super::entry::{entry_number, sha256_hex, Entry, Frozen};
use crate::history::diff::{BlockDiff, BlockKind, BlockOp, Diff, SegOp, Segment};

/// Where the HTTP layer serves [`STYLESHEET`] (as `text/css`).
pub const STYLESHEET_PATH: &str = "/archive.css";
/// Where the HTTP layer serves [`SCRIPT`] (as `text/javascript`).
pub const SCRIPT_PATH: &str = "/archive.js";
/// The Atom feed ([`super::feed::atom`]).
pub const FEED_PATH: &str = "/archive.atom";

/// The archive pages' style sheet: readable on a 390 px phone, and printed on A4 with page
/// numbers and without the page's controls.
pub const STYLESHEET: &str = r#"/* Leitbild: the archive's pages (server/src/archive/page.rs). */
:root {
  color-scheme: light;
  --ink: #1b1b1b;
  --muted: #545454;
  --line: #cfcfcf;
  --accent: #0b4f8a;
  --ins-bg: #dff3dc;
  --ins-ink: #0b5511;
  --del-bg: #fbe3e3;
  --del-ink: #8c1010;
  --moved: #6a3d9a;
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0 auto;
  max-width: 46rem;
  padding: 1rem 1rem 3rem;
  color: var(--ink);
  background: #fff;
  font: 1.0625rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  overflow-wrap: break-word;
}
a { color: var(--accent); text-underline-offset: 0.15em; }
a:focus-visible, button:focus-visible, summary:focus-visible {
  outline: 3px solid var(--accent);
  outline-offset: 2px;
}
h1 { font-size: 1.75rem; line-height: 1.25; margin: 0.5rem 0 0.75rem; }
h2 { font-size: 1.25rem; line-height: 1.3; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em; }
.muted, .meta { color: var(--muted); }
.meta { margin: 0.15rem 0; }

/* The bar of links and buttons above a page; never printed. */
.toolbar {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 1rem;
  padding-bottom: 0.75rem;
  margin-bottom: 1rem;
  border-bottom: 1px solid var(--line);
}
.toolbar .lang { margin-left: auto; }
.downloads { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; margin: 0; padding: 0; list-style: none; }
.downloads li { margin: 0; }
.button, button {
  display: inline-flex;
  align-items: center;
  min-height: 2.75rem;
  padding: 0.4rem 0.85rem;
  border: 1px solid var(--accent);
  border-radius: 0.4rem;
  background: #fff;
  color: var(--accent);
  font: inherit;
  font-size: 0.95rem;
  text-decoration: none;
  cursor: pointer;
}
button.primary { background: var(--accent); color: #fff; }
.downloads-label { font-size: 0.95rem; color: var(--muted); }

/* The list of adopted texts. */
.intro { margin-bottom: 1.5rem; }
.entries { list-style: none; margin: 0; padding: 0; }
.entries > li { padding: 1rem 0; border-top: 1px solid var(--line); }
.entries h2 { margin: 0 0 0.35rem; }
.entries .compare { margin: 0.5rem 0 0; }
.empty { padding: 1rem; border: 1px dashed var(--line); border-radius: 0.4rem; }

/* One adopted text. */
.title-block { margin-bottom: 2rem; padding-bottom: 1rem; border-bottom: 2px solid var(--ink); }
.title-block .kicker { margin: 0; font-size: 0.95rem; color: var(--muted); text-transform: none; }
.title-block .adopted-by { font-weight: 600; margin: 0.25rem 0; }
.title-block p { margin: 0.2rem 0; }
.adopted-text {
  font-family: Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, "Times New Roman", serif;
  font-size: 1.15rem;
  line-height: 1.65;
}
.adopted-text h1 { font-size: 1.6rem; }
.adopted-text h2 { font-size: 1.35rem; margin-top: 1.75rem; }
.adopted-text h3 { font-size: 1.15rem; }
.adopted-text img { max-width: 100%; height: auto; }
.adopted-text pre { overflow-x: auto; white-space: pre-wrap; }
.adopted-text table { display: block; overflow-x: auto; border-collapse: collapse; }
.adopted-text td, .adopted-text th { border: 1px solid var(--line); padding: 0.25rem 0.5rem; }
.adopted-text blockquote { margin: 1rem 0; padding-left: 1rem; border-left: 3px solid var(--line); }
.verification {
  margin-top: 3rem;
  padding-top: 1rem;
  border-top: 1px solid var(--line);
  font-size: 0.9rem;
}
.verification h2 { font-size: 1.05rem; margin: 0 0 0.5rem; }
.verification dl { margin: 0; }
.verification dt { font-weight: 600; margin-top: 0.6rem; }
.verification dd { margin: 0.1rem 0 0; }
.hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; overflow-wrap: anywhere; word-break: break-all; }
.note { white-space: pre-line; }

/* The comparison of two editions. */
.legend { display: flex; flex-wrap: wrap; gap: 0.5rem 1.25rem; padding: 0.6rem 0.8rem; background: #f4f4f4; border-radius: 0.4rem; }
.legend-item { white-space: nowrap; }
.diff ins, .legend ins { background: var(--ins-bg); color: var(--ins-ink); text-decoration: underline; text-decoration-thickness: 2px; }
.diff del, .legend del { background: var(--del-bg); color: var(--del-ink); text-decoration: line-through; text-decoration-thickness: 2px; }
.diff-summary { list-style: none; padding: 0; margin: 1rem 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; }
.diff-summary li { white-space: nowrap; }
.diff .block { position: relative; margin: 0.5rem 0; padding: 0.35rem 0.6rem; border-left: 4px solid transparent; }
.diff .block > p, .diff .block > pre { margin: 0; white-space: pre-wrap; }
.diff .op-insert { border-left-color: var(--ins-ink); background: #f3fbf2; }
.diff .op-delete { border-left-color: var(--del-ink); background: #fdf3f3; }
.diff .op-change { border-left-color: #b58900; }
.diff .op-move { border-left-color: var(--moved); border-left-style: dashed; }
.diff .badge { display: inline-block; margin: 0 0 0.2rem; padding: 0 0.4rem; border-radius: 0.25rem; font-size: 0.8rem; font-weight: 600; color: #fff; background: var(--muted); }
.diff .op-insert .badge { background: var(--ins-ink); }
.diff .op-delete .badge { background: var(--del-ink); }
.diff .op-move .badge, .legend .badge { background: var(--moved); color: #fff; padding: 0 0.4rem; border-radius: 0.25rem; font-size: 0.8rem; font-weight: 600; }
.diff .kind-heading p { font-weight: 700; font-size: 1.15rem; }
.diff .kind-heading.h1 p { font-size: 1.4rem; }
.diff .kind-quote p { font-style: italic; padding-left: 0.75rem; border-left: 3px solid var(--line); }
.diff .kind-list p { display: flex; gap: 0.5rem; }
.diff .marker { flex: none; min-width: 1.5rem; color: var(--muted); }
.diff .depth-1 { margin-left: 1.5rem; }
.diff .depth-2 { margin-left: 3rem; }
.diff .depth-3 { margin-left: 4.5rem; }
.diff .depth-4 { margin-left: 6rem; }
.diff .reformatted { outline: 1px dotted var(--muted); }
.diff .link { text-decoration: underline dotted; }
.diff details.unchanged { margin: 0.5rem 0; }
.diff details.unchanged > summary { cursor: pointer; color: var(--accent); padding: 0.5rem 0.6rem; min-height: 2.75rem; }
.back-links { margin-top: 2rem; }
/* Screen readers do not announce <ins> and <del>: say it in words. */
.diff ins::before, .diff ins::after, .diff del::before, .diff del::after {
  position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip-path: inset(100%); clip: rect(1px, 1px, 1px, 1px); white-space: nowrap;
}
.diff:lang(de) ins::before { content: " [Einfügung Anfang] "; }
.diff:lang(de) ins::after { content: " [Einfügung Ende] "; }
.diff:lang(de) del::before { content: " [Löschung Anfang] "; }
.diff:lang(de) del::after { content: " [Löschung Ende] "; }
.diff:lang(en) ins::before { content: " [insertion start] "; }
.diff:lang(en) ins::after { content: " [insertion end] "; }
.diff:lang(en) del::before { content: " [deletion start] "; }
.diff:lang(en) del::after { content: " [deletion end] "; }

/* Paper: A4, page numbers at the foot, no controls. Chromium draws the margin boxes
   since version 131; other browsers print without the numbers. */
@page {
  size: A4;
  margin: 2cm;
  @bottom-center {
    content: counter(page) " / " counter(pages);
    font: 9pt system-ui, sans-serif;
    color: #444;
  }
}
@media print {
  .no-print { display: none !important; }
  body { max-width: none; padding: 0; font-size: 10.5pt; color: #000; }
  a { color: inherit; text-decoration: none; }
  .title-block { border-bottom-width: 1pt; }
  .adopted-text { font-size: 12pt; line-height: 1.5; }
  h1, h2, h3, h4, h5, h6 { break-after: avoid; page-break-after: avoid; }
  p, li, blockquote { orphans: 3; widows: 3; }
  pre, blockquote, tr, img { break-inside: avoid; }
  .verification { break-inside: avoid; font-size: 8.5pt; margin-top: 2rem; }
  .diff ins, .diff del, .diff .block { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The archive pages' script: the print button (hidden where scripts do not run, so no
/// button is dead) and the permalink written out as a full address for the printout.
pub const SCRIPT: &str = r#"// Leitbild: the archive's pages (server/src/archive/page.rs).
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
for (const link of document.querySelectorAll("a[data-absolute]")) {
  link.textContent = link.href;
}
"#;

/// `?v=` plus the first hex digits of the content's hash, so a changed file is fetched
/// anew however long browsers cache the old one.
static STYLESHEET_HREF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{STYLESHEET_PATH}?v={}",
        &sha256_hex(STYLESHEET.as_bytes())[..12]
    )
});
static SCRIPT_HREF: LazyLock<String> =
    LazyLock::new(|| format!("{SCRIPT_PATH}?v={}", &sha256_hex(SCRIPT.as_bytes())[..12]));

// ---------------------------------------------------------------------------------------
// Language

/// The language of a page. German unless the reader asks for English.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    De,
    En,
}

impl Lang {
    /// The language an `Accept-Language` header prefers among German and English: English
    /// only when it ranks above German (by weight, then by position), German otherwise,
    /// also without a header or with one that names neither.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::De;
        };
        // (weight in thousandths, position) of the best German and English ranges.
        let mut best: [Option<(u16, usize)>; 2] = [None, None];
        for (position, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let slot = if primary.eq_ignore_ascii_case("de") {
                0
            } else if primary.eq_ignore_ascii_case("en") {
                1
            } else {
                continue;
            };
            let weight = parts
                .find_map(|p| {
                    let (name, value) = p.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| quality(value))
                })
                .unwrap_or(Some(1000));
            let Some(weight) = weight.filter(|&w| w > 0) else {
                continue;
            };
            let better = match best[slot] {
                None => true,
                Some((w, _)) => weight > w,
            };
            if better {
                best[slot] = Some((weight, position));
            }
        }
        match best {
            [_, None] => Lang::De,
            [None, Some(_)] => Lang::En,
            [Some((de, de_at)), Some((en, en_at))] => {
                if en > de || (en == de && en_at < de_at) {
                    Lang::En
                } else {
                    Lang::De
                }
            }
        }
    }

    /// The language a `?lang=` value names (`de`, `en`, any case); `None` for others.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim() {
            c if c.eq_ignore_ascii_case("de") => Some(Lang::De),
            c if c.eq_ignore_ascii_case("en") => Some(Lang::En),
            _ => None,
        }
    }

    /// `de` or `en`: the `lang` attribute and the `?lang=` value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    fn pick<'a>(self, de: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }

    fn other(self) -> Lang {
        match self {
            Lang::De => Lang::En,
            Lang::En => Lang::De,
        }
    }
}

/// An Accept-Language weight (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn quality(value: &str) -> Option<u16> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = match whole {
        "0" => format!("{fraction:0<3}").parse::<u16>().ok()?,
        "1" if fraction.bytes().all(|b| b == b'0') => 1000,
        _ => return None,
    };
    Some(thousandths)
}

// ---------------------------------------------------------------------------------------
// Escaping, dates and the words used on several pages

/// `text` safe inside HTML or XML text and attribute values: `& < > " '` as references,
/// and the control characters XML 1.0 forbids (all of C0 but tab, line feed and carriage
/// return, and U+FFFE, U+FFFF) as U+FFFD, so the Atom feed stays well-formed too.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A `YYYY-MM-DD` date as readers write it: `29.09.2026`, `29 September 2026`. Anything
/// else comes back as it is (the caller escapes it).
pub fn format_date(iso: &str, lang: Lang) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(iso.trim(), &format) {
        Ok(date) => human_date(date, lang),
        Err(_) => iso.to_owned(),
    }
}

fn human_date(date: Date, lang: Lang) -> String {
    match lang {
        Lang::De => format!(
            "{:02}.{:02}.{}",
            date.day(),
            u8::from(date.month()),
            date.year()
        ),
        Lang::En => format!("{} {} {}", date.day(), date.month(), date.year()),
    }
}

/// An RFC 3339 time in UTC as readers write it: `01.10.2026, 08:00 Uhr (UTC)`,
/// `1 October 2026, 08:00 UTC`. Anything else comes back as it is.
fn format_moment(rfc3339: &str, lang: Lang) -> String {
    let Ok(moment) = OffsetDateTime::parse(rfc3339.trim(), &Rfc3339) else {
        return rfc3339.to_owned();
    };
    let moment = moment.to_offset(UtcOffset::UTC);
    let clock = format!("{:02}:{:02}", moment.hour(), moment.minute());
    let date = human_date(moment.date(), lang);
    match lang {
        Lang::De => format!("{date}, {clock} Uhr (UTC)"),
        Lang::En => format!("{date}, {clock} UTC"),
    }
}

/// `<time datetime="…">29.09.2026</time>` for a `YYYY-MM-DD` date.
fn time_element(iso: &str, lang: Lang) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        escape(iso),
        escape(&format_date(iso, lang))
    )
}

fn edition(n: u64, lang: Lang) -> String {
    match lang {
        Lang::De => format!("{n}. Fassung"),
        Lang::En => format!("Edition {n}"),
    }
}

/// A page of the archive with `?lang=` for the page's language, so a reader who chose a
/// language keeps it from page to page whatever the browser asks for.
fn page_href(path: &str, lang: Lang) -> String {
    format!("{path}?lang={}", lang.code())
}

/// `/archive/{id}` with the id escaped.
fn entry_path(id: &str) -> String {
    format!("/archive/{}", escape(id))
}

/// A complete HTML document. `title` is plain text; `head` and `body` are HTML.
fn document(lang: Lang, title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<link rel=\"icon\" href=\"data:,\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{feed}\" href=\"{FEED_PATH}\">\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n\
         <script src=\"{js}\" defer></script>\n{head}</head>\n<body>\n{body}</body>\n</html>\n",
        code = lang.code(),
        title = escape(title),
        feed = lang.pick("Beschlossene Texte", "Adopted texts"),
        css = escape(&STYLESHEET_HREF),
        js = escape(&SCRIPT_HREF),
    )
}

/// The link to the same page in the other language (`?lang=` on the current address).
fn language_switch(lang: Lang) -> String {
    let other = lang.other();
    format!(
        "<a class=\"lang\" href=\"?lang={code}\" hreflang=\"{code}\" lang=\"{code}\">{name}</a>",
        code = other.code(),
        name = other.pick("Deutsch", "English"),
    )
}

// ---------------------------------------------------------------------------------------
// The pages

/// `/archive`: every adopted text, newest first. `entries` come in archive order (oldest
/// first).
pub fn list(entries: &[Entry], lang: Lang) -> String {
    let title = lang.pick("Beschlossene Texte", "Adopted texts");
    // The entry before each one of the same document: the edition to compare with.
    let mut last_of_doc: std::collections::HashMap<&str, &str> = Default::default();
    let mut previous: Vec<Option<&str>> = Vec::with_capacity(entries.len());
    for entry in entries {
        previous.push(last_of_doc.insert(entry.doc.as_str(), entry.id.as_str()));
    }

    let mut body = String::new();
    let _ = write!(
        body,
        "<nav class=\"toolbar no-print\" aria-label=\"{nav}\">{switch}</nav>\n\
         <header class=\"intro\">\n<h1>{title}</h1>\n<p>{intro}</p>\n<p>{chain} \
         <a href=\"/api/archive/verify\">{verify}</a></p>\n\
         <p><a href=\"{FEED_PATH}\">{feed}</a></p>\n</header>\n<main>\n",
        nav = lang.pick("Sprache", "Language"),
        switch = language_switch(lang),
        title = escape(title),
        intro = lang.pick(
            "Hier finden Sie alle Texte, die ein Gremium beschlossen hat, genau in der \
             beschlossenen Fassung. Beschlossene Texte werden nicht mehr verändert. Wird \
             ein Text später überarbeitet und erneut beschlossen, erscheint er hier als \
             neue Fassung.",
            "This page lists every text adopted by a committee, exactly as it was adopted. \
             Adopted texts are never changed. When a text is revised and adopted again, it \
             appears here as a new edition.",
        ),
        chain = lang.pick(
            "Jeder Text ist durch eine Kette von Prüfsummen geschützt: Würde ein Text \
             nachträglich verändert, fiele das bei der Prüfung auf.",
            "Every text is protected by a chain of checksums: if a text were changed \
             afterwards, the check would reveal it.",
        ),
        verify = lang.pick(
            "Kette jetzt prüfen (technische Ausgabe)",
            "Check the chain now (technical output)",
        ),
        feed = lang.pick(
            "Neue Beschlüsse als Feed abonnieren (Atom)",
            "Subscribe to new adoptions (Atom feed)",
        ),
    );

    if entries.is_empty() {
        let _ = writeln!(
            body,
            "<p class=\"empty\">{}</p>",
            lang.pick(
                "Bisher wurde noch kein Text beschlossen. Sobald ein Gremium einen Text \
                 beschließt, finden Sie ihn hier.",
                "No text has been adopted yet. As soon as a committee adopts a text, you \
                 will find it here.",
            )
        );
    } else {
        body.push_str("<ul class=\"entries\">\n");
        for (entry, previous) in entries.iter().zip(&previous).rev() {
            let _ = write!(
                body,
                "<li>\n<h2><a href=\"{href}\">{title}</a></h2>\n\
                 <p class=\"meta\">{doc_label}: {doc} · {edition}</p>\n\
                 <p class=\"meta\">{decided} {date}</p>\n\
                 <p class=\"meta\">{by_label}: {by}</p>\n",
                href = page_href(&entry_path(&entry.id), lang),
                title = escape(&entry.title),
                doc_label = lang.pick("Dokument", "Document"),
                doc = escape(&entry.doc_title),
                edition = edition(entry.edition, lang),
                decided = lang.pick("Beschlossen am", "Adopted on"),
                date = time_element(&entry.decided_on, lang),
                by_label = lang.pick("Gremium", "Adopted by"),
                by = escape(&entry.adopted_by),
            );
            if let Some(previous) = previous {
                let _ = writeln!(
                    body,
                    "<p class=\"compare\"><a href=\"{}\">{}</a></p>",
                    page_href(
                        &format!("{}/compare/{}", entry_path(&entry.id), escape(previous)),
                        lang
                    ),
                    lang.pick(
                        "Mit vorheriger Fassung vergleichen",
                        "Compare with the previous edition"
                    ),
                );
            }
            body.push_str("</li>\n");
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</main>\n");
    document(lang, title, "", &body)
}

/// `/archive/{id}`: one adopted text, ready to print, with what it takes to check it.
pub fn entry(entry: &Entry, frozen: &Frozen, lang: Lang) -> String {
    let path = entry_path(&entry.id);
    let downloads = [
        ("md", "Markdown"),
        ("html", "HTML"),
        ("txt", lang.pick("Text", "Plain text")),
        ("json", "JSON"),
        ("docx", "Word (DOCX)"),
    ];
    let mut body = String::new();
    let _ = write!(
        body,
        "<nav class=\"toolbar no-print\" aria-label=\"{nav}\">\n\
         <a href=\"{list}\">← {back}</a>\n\
         <button type=\"button\" class=\"primary\" data-print hidden>{print}</button>\n\
         <span class=\"downloads-label\">{download}:</span>\n<ul class=\"downloads\">\n",
        nav = lang.pick("Herunterladen und drucken", "Download and print"),
        list = page_href("/archive", lang),
        back = lang.pick("Alle beschlossenen Texte", "All adopted texts"),
        print = lang.pick("Drucken", "Print"),
        download = lang.pick("Herunterladen", "Download"),
    );
    for (format, name) in downloads {
        let _ = writeln!(
            body,
            "<li><a class=\"button\" href=\"/api/archive/{id}?format={format}\" download>{name}</a></li>",
            id = escape(&entry.id),
            name = escape(name),
        );
    }
    let _ = write!(body, "</ul>\n{}\n</nav>\n", language_switch(lang));

    let _ = write!(
        body,
        "<header class=\"title-block\">\n\
         <p class=\"kicker\">{doc_label}: {doc} · {edition}</p>\n\
         <h1>{title}</h1>\n\
         <p class=\"adopted-by\">{by}</p>\n\
         <p>{decided} {date}</p>\n</header>\n\
         <main class=\"adopted-text\">\n{html}\n</main>\n",
        doc_label = lang.pick("Dokument", "Document"),
        doc = escape(&entry.doc_title),
        edition = edition(entry.edition, lang),
        title = escape(&entry.title),
        by = escape(&entry.adopted_by),
        decided = lang.pick("Beschlossen am", "Adopted on"),
        date = time_element(&entry.decided_on, lang),
        // Sanitized by `render` when the text was frozen, and covered by `html_sha256`.
        html = frozen.html,
    );

    let md = format!("/api/archive/{}?format=md", escape(&entry.id));
    // The name the download gets from `http::archive` (`Content-Disposition`).
    let file = format!("leitbild-{}.md", escape(&entry.id));
    let _ = write!(
        body,
        "<footer class=\"verification\">\n<h2>{heading}</h2>\n<dl>\n\
         <dt>{sha_label}</dt>\n<dd class=\"hash\">{sha}</dd>\n\
         <dt>{how_label}</dt>\n<dd>{how}</dd>\n\
         <dt>{permalink_label}</dt>\n<dd><a href=\"{path}\" data-absolute>{path}</a></dd>\n\
         <dt>{at_label}</dt>\n<dd><time datetime=\"{at_raw}\">{at}</time></dd>\n\
         <dt>{adopter_label}</dt>\n<dd>{adopter}</dd>\n",
        heading = lang.pick("Nachweis der Echtheit", "Proof of authenticity"),
        sha_label = lang.pick(
            "Prüfsumme der Markdown-Fassung (SHA-256)",
            "Checksum of the Markdown version (SHA-256)"
        ),
        sha = escape(&entry.sha256),
        how_label = lang.pick("So prüfen Sie den Text", "How to check the text"),
        how = match lang {
            Lang::De => format!(
                "Laden Sie die <a href=\"{md}\" download>Markdown-Fassung</a> herunter und \
                 prüfen Sie: <code>sha256sum {file}</code> (Linux, macOS) oder \
                 <code>certutil -hashfile {file} SHA256</code> (Windows). Stimmt das \
                 Ergebnis mit der Prüfsumme oben überein, ist der Text unverändert."
            ),
            Lang::En => format!(
                "Download the <a href=\"{md}\" download>Markdown version</a> and check it: \
                 <code>sha256sum {file}</code> (Linux, macOS) or \
                 <code>certutil -hashfile {file} SHA256</code> (Windows). If the result \
                 matches the checksum above, the text is unchanged."
            ),
        },
        permalink_label = lang.pick("Dauerhafte Adresse", "Permanent address"),
        at_label = lang.pick("Ins Archiv aufgenommen am", "Archived on"),
        at_raw = escape(&entry.adopted_at),
        at = escape(&format_moment(&entry.adopted_at, lang)),
        adopter_label = lang.pick("Ins Archiv aufgenommen von", "Archived by"),
        adopter = escape(&entry.adopter_name),
    );
    if let Some(note) = entry.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = write!(
            body,
            "<dt>{}</dt>\n<dd class=\"note\">{}</dd>\n",
            lang.pick("Anmerkung", "Note"),
            escape(note)
        );
    }
    let previous = if entry.prev_sha256.is_empty() {
        escape(lang.pick(
            "keine (erster Eintrag im Archiv)",
            "none (first entry of the archive)",
        ))
    } else {
        escape(&entry.prev_sha256)
    };
    let _ = write!(
        body,
        "<dt>{prev_label}</dt>\n<dd class=\"hash\">{previous}</dd>\n\
         <dt>{own_label}</dt>\n<dd class=\"hash\">{own}</dd>\n</dl>\n\
         <p class=\"no-print\"><a href=\"/api/archive/verify\">{verify}</a></p>\n</footer>\n",
        prev_label = lang.pick(
            "Prüfsumme des vorherigen Archiveintrags",
            "Checksum of the previous archive entry"
        ),
        own_label = lang.pick(
            "Prüfsumme dieses Archiveintrags",
            "Checksum of this archive entry"
        ),
        own = escape(&entry.entry_sha256),
        verify = lang.pick(
            "Ganze Kette prüfen (technische Ausgabe)",
            "Check the whole chain (technical output)"
        ),
    );
    let head = format!("<link rel=\"canonical\" href=\"{path}\">\n");
    document(
        lang,
        &format!(
            "{} – {}",
            entry.title,
            lang.pick("Beschlossene Texte", "Adopted texts")
        ),
        &head,
        &body,
    )
}

/// `/archive/{a}/compare/{b}`: what changed between two adopted texts. `diff_html` is
/// embedded as it is (from [`diff_html`]). The older entry is shown as the one changed
/// from, whichever order the address names them in.
pub fn compare(a: &Entry, b: &Entry, diff_html: &str, lang: Lang) -> String {
    let (older, newer) = if is_older(a, b) { (a, b) } else { (b, a) };
    let name = |e: &Entry| {
        format!(
            "{} ({})",
            edition(e.edition, lang),
            escape(&format_date(&e.decided_on, lang))
        )
    };
    let title = match lang {
        Lang::De => format!(
            "{} und {} im Vergleich",
            edition(older.edition, lang),
            edition(newer.edition, lang)
        ),
        Lang::En => format!(
            "Edition {} compared with edition {}",
            newer.edition, older.edition
        ),
    };
    let heading = match lang {
        Lang::De => format!("{} und {} im Vergleich", name(older), name(newer)),
        Lang::En => format!("{} compared with {}", name(newer), name(older)),
    };
    let documents = if older.doc == newer.doc {
        format!(
            "{}: {}",
            lang.pick("Dokument", "Document"),
            escape(&newer.doc_title)
        )
    } else {
        format!(
            "{}: {} · {}",
            lang.pick("Dokumente", "Documents"),
            escape(&older.doc_title),
            escape(&newer.doc_title)
        )
    };
    let link = |e: &Entry| {
        format!(
            "<li><a href=\"{}\">{}: {}</a></li>",
            page_href(&entry_path(&e.id), lang),
            edition(e.edition, lang),
            escape(&e.title)
        )
    };
    let body = format!(
        "<nav class=\"toolbar no-print\" aria-label=\"{nav}\">\n<a href=\"{list}\">← {back}</a>\n{switch}\n</nav>\n\
         <header>\n<p class=\"meta\">{documents}</p>\n<h1>{heading}</h1>\n\
         <p>{explain}</p>\n\
         <p class=\"legend\"><span class=\"legend-item\"><ins>{inserted}</ins> {inserted_text}</span>\
         <span class=\"legend-item\"><del>{deleted}</del> {deleted_text}</span>\
         <span class=\"legend-item\"><span class=\"badge\">{moved}</span> {moved_text}</span></p>\n\
         </header>\n<main>\n{diff_html}\n</main>\n\
         <footer class=\"back-links\">\n<ul>\n{older_link}\n{newer_link}\n</ul>\n</footer>\n",
        nav = lang.pick("Navigation", "Navigation"),
        list = page_href("/archive", lang),
        back = lang.pick("Alle beschlossenen Texte", "All adopted texts"),
        switch = language_switch(lang),
        explain = match lang {
            Lang::De => format!(
                "Gezeigt wird der Text der {}. Was gegenüber der {} neu ist, ist grün \
                 unterstrichen; was weggefallen ist, ist rot durchgestrichen.",
                edition(newer.edition, lang),
                edition(older.edition, lang)
            ),
            Lang::En => format!(
                "This shows the text of edition {}. What is new since edition {} is \
                 underlined in green; what was removed is struck through in red.",
                newer.edition, older.edition
            ),
        },
        inserted = lang.pick("eingefügt", "inserted"),
        inserted_text = lang.pick("neuer Text", "new text"),
        deleted = lang.pick("gelöscht", "deleted"),
        deleted_text = lang.pick("entfernter Text", "removed text"),
        moved = lang.pick("verschoben", "moved"),
        moved_text = lang.pick("an andere Stelle gesetzt", "put elsewhere"),
        older_link = link(older),
        newer_link = link(newer),
    );
    document(lang, &title, "", &body)
}

/// Whether `a` came into the archive before `b`: by entry number, then by edition.
fn is_older(a: &Entry, b: &Entry) -> bool {
    match (entry_number(&a.id), entry_number(&b.id)) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a.edition < b.edition,
    }
}

/// The page for an address that names no archive entry (the caller answers 404).
pub fn not_found(lang: Lang) -> String {
    let title = lang.pick("Text nicht gefunden", "Text not found");
    let body = format!(
        "<nav class=\"toolbar no-print\" aria-label=\"{nav}\">{switch}</nav>\n\
         <main>\n<h1>{title}</h1>\n<p>{text}</p>\n\
         <p><a class=\"button\" href=\"{list}\">{link}</a></p>\n</main>\n",
        nav = lang.pick("Sprache", "Language"),
        switch = language_switch(lang),
        title = escape(title),
        text = lang.pick(
            "Unter dieser Adresse gibt es keinen beschlossenen Text. Bitte prüfen Sie, ob \
             die Adresse vollständig ist.",
            "There is no adopted text at this address. Please check that the address is \
             complete.",
        ),
        list = page_href("/archive", lang),
        link = lang.pick("Zu allen beschlossenen Texten", "Go to all adopted texts"),
    );
    document(
        lang,
        title,
        "<meta name=\"robots\" content=\"noindex\">\n",
        &body,
    )
}

// ---------------------------------------------------------------------------------------
// The diff

/// Runs of unchanged blocks longer than this are folded away, but for one block of
/// context next to each change.
const FOLD_AFTER: usize = 3;

/// `diff` as HTML for [`compare`]: the summary, then every block in the newer text's
/// order, inserted and deleted text as `<ins>` and `<del>`, moved blocks marked, and long
/// runs of unchanged blocks folded into a `<details>`. All text is escaped.
pub fn diff_html(diff: &Diff, lang: Lang) -> String {
    let mut out = format!("<section class=\"diff\" lang=\"{}\">\n", lang.code());
    summary_html(diff, lang, &mut out);

    let markers = list_markers(&diff.blocks);
    let blocks: Vec<(&BlockDiff, &str)> = diff
        .blocks
        .iter()
        .zip(markers.iter().map(String::as_str))
        .collect();
    let mut i = 0;
    while i < blocks.len() {
        if blocks[i].0.op != BlockOp::Equal {
            block_html(blocks[i].0, blocks[i].1, lang, &mut out);
            i += 1;
            continue;
        }
        let end = blocks[i..]
            .iter()
            .position(|(b, _)| b.op != BlockOp::Equal)
            .map_or(blocks.len(), |n| i + n);
        // Keep one block next to a change on either side; fold the rest if it is long.
        let keep_before = usize::from(i > 0);
        let keep_after = usize::from(end < blocks.len());
        let run = end - i;
        if run > FOLD_AFTER && run > keep_before + keep_after + 1 {
            let fold_start = i + keep_before;
            let fold_end = end - keep_after;
            for &(block, marker) in &blocks[i..fold_start] {
                block_html(block, marker, lang, &mut out);
            }
            let count = fold_end - fold_start;
            let _ = writeln!(
                out,
                "<details class=\"unchanged\"><summary>{}</summary>",
                match lang {
                    Lang::De => format!("{count} unveränderte Absätze anzeigen"),
                    Lang::En => format!("Show {count} unchanged paragraphs"),
                }
            );
            for &(block, marker) in &blocks[fold_start..fold_end] {
                block_html(block, marker, lang, &mut out);
            }
            out.push_str("</details>\n");
            for &(block, marker) in &blocks[fold_end..end] {
                block_html(block, marker, lang, &mut out);
            }
        } else {
            for &(block, marker) in &blocks[i..end] {
                block_html(block, marker, lang, &mut out);
            }
        }
        i = end;
    }
    out.push_str("</section>\n");
    out
}

/// The summary's counts other than zero as a list, or a sentence that nothing changed.
fn summary_html(diff: &Diff, lang: Lang, out: &mut String) {
    let s = &diff.summary;
    let counts = [
        (
            s.blocks_added,
            ("Absatz neu", "Absätze neu"),
            ("paragraph added", "paragraphs added"),
        ),
        (
            s.blocks_removed,
            ("Absatz entfernt", "Absätze entfernt"),
            ("paragraph removed", "paragraphs removed"),
        ),
        (
            s.blocks_changed,
            ("Absatz geändert", "Absätze geändert"),
            ("paragraph changed", "paragraphs changed"),
        ),
        (
            s.blocks_moved,
            ("Absatz verschoben", "Absätze verschoben"),
            ("paragraph moved", "paragraphs moved"),
        ),
        (
            s.words_added,
            ("Wort eingefügt", "Wörter eingefügt"),
            ("word inserted", "words inserted"),
        ),
        (
            s.words_removed,
            ("Wort gelöscht", "Wörter gelöscht"),
            ("word deleted", "words deleted"),
        ),
    ];
    if counts.iter().all(|(n, ..)| *n == 0) {
        let _ = writeln!(
            out,
            "<p class=\"diff-summary\">{}</p>",
            lang.pick(
                "Die beiden Fassungen stimmen im Text überein.",
                "The two editions have the same text."
            )
        );
        return;
    }
    let _ = writeln!(
        out,
        "<ul class=\"diff-summary\" aria-label=\"{}\">",
        lang.pick("Zusammenfassung", "Summary")
    );
    for (n, de, en) in counts.into_iter().filter(|(n, ..)| *n > 0) {
        let (one, many) = match lang {
            Lang::De => de,
            Lang::En => en,
        };
        let _ = writeln!(
            out,
            "<li><strong>{n}</strong> {}</li>",
            if n == 1 { one } else { many }
        );
    }
    out.push_str("</ul>\n");
}

/// The marker each list item shows (`•`, `3.`), counted along the newer text; empty for
/// other blocks. Deleted ordered items are not counted: they are not in the newer text.
fn list_markers(blocks: &[BlockDiff]) -> Vec<String> {
    let mut counters: Vec<u32> = Vec::new();
    let mut markers = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block.kind_to.or(block.kind_from) {
            Some(BlockKind::ListItem { ordered, depth }) => {
                let depth = usize::from(depth).min(16);
                counters.resize(depth + 1, 0);
                if !ordered {
                    markers.push("•".to_owned());
                } else if block.op == BlockOp::Delete {
                    markers.push("–".to_owned());
                } else {
                    counters[depth] += 1;
                    markers.push(format!("{}.", counters[depth]));
                }
            }
            _ => {
                counters.clear();
                markers.push(String::new());
            }
        }
    }
    markers
}

/// One block: a `<div>` with its op and kind as classes, a badge for whole-block changes,
/// and the text in the element its kind calls for.
fn block_html(block: &BlockDiff, marker: &str, lang: Lang, out: &mut String) {
    let kind = block
        .kind_to
        .or(block.kind_from)
        .unwrap_or(BlockKind::Paragraph);
    let op = match block.op {
        BlockOp::Equal => "equal",
        BlockOp::Insert => "insert",
        BlockOp::Delete => "delete",
        BlockOp::Change => "change",
        BlockOp::Move => "move",
    };
    let kind_class = match kind {
        BlockKind::Paragraph => "kind-paragraph".to_owned(),
        BlockKind::Heading(level) => format!("kind-heading h{}", level.clamp(1, 6)),
        BlockKind::ListItem { depth, .. } => format!("kind-list depth-{}", depth.min(4)),
        BlockKind::Quote => "kind-quote".to_owned(),
        BlockKind::Code => "kind-code".to_owned(),
        BlockKind::Rule => "kind-rule".to_owned(),
    };
    let _ = write!(out, "<div class=\"block op-{op} {kind_class}\">");
    let mut badges: Vec<&str> = Vec::new();
    match block.op {
        BlockOp::Insert => badges.push(lang.pick("neu", "new")),
        BlockOp::Delete => badges.push(lang.pick("entfernt", "removed")),
        BlockOp::Move => badges.push(lang.pick("verschoben", "moved")),
        _ => {}
    }
    if matches!((block.kind_from, block.kind_to), (Some(from), Some(to)) if from != to) {
        badges.push(lang.pick("Format geändert", "format changed"));
    }
    for badge in badges {
        let _ = write!(out, "<span class=\"badge\">{}</span> ", escape(badge));
    }
    match kind {
        BlockKind::Rule => out.push_str("<hr>"),
        BlockKind::Code => {
            out.push_str("<pre>");
            segments_html(&block.segments, lang, out);
            out.push_str("</pre>");
        }
        BlockKind::ListItem { .. } => {
            let _ = write!(
                out,
                "<p><span class=\"marker\" aria-hidden=\"true\">{}</span><span>",
                escape(marker)
            );
            segments_html(&block.segments, lang, out);
            out.push_str("</span></p>");
        }
        _ => {
            out.push_str("<p>");
            segments_html(&block.segments, lang, out);
            out.push_str("</p>");
        }
    }
    out.push_str("</div>\n");
}

fn segments_html(segments: &[Segment], lang: Lang, out: &mut String) {
    for segment in segments {
        let (open, close) = match segment.op {
            SegOp::Insert => ("<ins>".to_owned(), "</ins>"),
            SegOp::Delete => ("<del>".to_owned(), "</del>"),
            SegOp::Equal if segment.marks_from.is_some() => (
                format!(
                    "<span class=\"reformatted\" title=\"{}\">",
                    lang.pick("Formatierung geändert", "Formatting changed")
                ),
                "</span>",
            ),
            SegOp::Equal => (String::new(), ""),
        };
        out.push_str(&open);
        marked_html(&segment.text, &segment.marks, out);
        out.push_str(close);
    }
}

/// `text` escaped, inside the elements of its marks. Links are shown, not followed: a
/// diff is no place to click through, and the target may be anything.
fn marked_html(text: &str, marks: &[String], out: &mut String) {
    let mut closers: Vec<&str> = Vec::new();
    for mark in marks {
        let (open, close) = match mark.as_str() {
            "bold" => ("<strong>", "</strong>"),
            "italic" => ("<em>", "</em>"),
            "strike" => ("<s>", "</s>"),
            "underline" => ("<u>", "</u>"),
            "code" => ("<code>", "</code>"),
            m if m == "link" || m.starts_with("link:") => ("<span class=\"link\">", "</span>"),
            _ => continue,
        };
        out.push_str(open);
        closers.push(close);
    }
    out.push_str(&escape(text));
    for close in closers.iter().rev() {
        out.push_str(close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::entry::{Adoption, Draft};
    use crate::history::diff::{diff, Block, Run};

    const HOSTILE: &str = "<script>alert(\"x\")</script> & 'y'";

    /// Sealed entries in archive order: (doc, title, decided_on) each.
    fn archive(specs: &[(&str, &str, &str)]) -> Vec<(Entry, Frozen)> {
        let mut sealed: Vec<(Entry, Frozen)> = Vec::new();
        for (i, (doc, title, decided_on)) in specs.iter().enumerate() {
            let n = i as u64 + 1;
            let edition = 1 + sealed.iter().filter(|(e, _)| e.doc == *doc).count() as u64;
            let draft = Draft {
                adoption: Adoption {
                    title: (*title).into(),
                    adopted_by: "Lenkungsausschuss <b>Bildung</b>".into(),
                    decided_on: (*decided_on).into(),
                    note: Some("Beschluss 12/2026\n<i>TOP 3</i>".into()),
                },
                adopted_at: "2026-10-01T08:05:00Z".into(),
                adopter: "p-1".into(),
                adopter_name: "Anna <img src=x onerror=alert(1)>".into(),
                doc: (*doc).into(),
                doc_title: format!("Leitbild {doc}"),
                version: format!("v{n}"),
                frozen: Frozen {
                    markdown: format!("# {title}\n"),
                    html: "<h1>Unser Leitbild</h1>\n<p>Wir lernen gemeinsam.</p>".into(),
                    text: "Unser Leitbild\n".into(),
                    state: String::new(),
                },
                state: vec![n as u8],
            };
            let prev = sealed.last().map(|(e, _)| e);
            let next = draft.seal(n, edition, prev);
            sealed.push(next);
        }
        sealed
    }

    fn entries(sealed: &[(Entry, Frozen)]) -> Vec<Entry> {
        sealed.iter().map(|(e, _)| e.clone()).collect()
    }

    #[test]
    fn hostile_values_are_escaped_on_every_page() {
        let sealed = archive(&[
            ("bildung", HOSTILE, "2026-09-29"),
            ("bildung", HOSTILE, "2026-10-29"),
        ]);
        let all = entries(&sealed);
        let pages = [
            list(&all, Lang::De),
            entry(&sealed[0].0, &sealed[0].1, Lang::De),
            compare(&all[1], &all[0], "", Lang::En),
        ];
        for page in &pages {
            assert!(!page.contains("<script>alert"), "{page}");
            assert!(!page.contains("<b>Bildung"), "{page}");
            assert!(!page.contains("<img src=x"));
            assert!(!page.contains("<i>TOP"));
        }
        assert!(pages[0]
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"));
        assert!(pages[1].contains("<h1>&lt;script&gt;"));
        assert!(pages[1].contains("Anna &lt;img src=x onerror=alert(1)&gt;"));
        assert!(pages[1].contains("<title>&lt;script&gt;"));
    }

    #[test]
    fn escape_covers_markup_and_characters_xml_forbids() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(escape("x\u{0}y\u{1b}\tz\n"), "x\u{FFFD}y\u{FFFD}\tz\n");
        assert_eq!(escape("Schule–Beruf ü"), "Schule–Beruf ü");
    }

    #[test]
    fn the_list_shows_the_newest_first_with_german_dates() {
        let sealed = archive(&[
            ("bildung", "Erster Text", "2025-03-01"),
            ("bildung", "Zweiter Text", "2026-09-29"),
            ("jugend", "Dritter Text", "2026-11-05"),
        ]);
        let page = list(&entries(&sealed), Lang::De);
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("Dritter Text") < at("Zweiter Text"));
        assert!(at("Zweiter Text") < at("Erster Text"));
        assert!(page.contains(">29.09.2026</time>"));
        assert!(page.contains("<time datetime=\"2026-09-29\">"));
        assert!(page.contains("2. Fassung"));
        assert!(page.contains("href=\"/archive/a3?lang=de\""));
        assert!(page.contains(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Beschlossene Texte\" href=\"/archive.atom\">"
        ));
        assert!(page.contains("href=\"/api/archive/verify\""));
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"de\">"));

        let english = list(&entries(&sealed), Lang::En);
        assert!(english.contains(">29 September 2026</time>"));
        assert!(english.contains("Edition 2"));
        assert!(english.contains("href=\"/archive/a3?lang=en\""));
    }

    #[test]
    fn the_compare_link_appears_only_after_an_earlier_edition_of_the_same_doc() {
        let sealed = archive(&[
            ("bildung", "B1", "2025-03-01"),
            ("jugend", "J1", "2025-04-01"),
            ("bildung", "B2", "2026-09-29"),
            ("bildung", "B3", "2026-10-29"),
        ]);
        let page = list(&entries(&sealed), Lang::De);
        let compares: Vec<&str> = page
            .match_indices("/compare/")
            .map(|(i, _)| &page[i - 10..i + 12])
            .collect();
        assert_eq!(compares.len(), 2, "{compares:?}");
        assert!(page.contains("href=\"/archive/a4/compare/a3?lang=de\""));
        assert!(page.contains("href=\"/archive/a3/compare/a1?lang=de\""));
        assert!(page.contains("Mit vorheriger Fassung vergleichen"));
        // a1 (first of its doc) and a2 (another doc) have none.
        assert!(!page.contains("/archive/a2/compare/"));
        assert!(!page.contains("/archive/a1/compare/"));
    }

    #[test]
    fn an_empty_archive_says_so() {
        let page = list(&[], Lang::De);
        assert!(page.contains("Bisher wurde noch kein Text beschlossen."));
        assert!(!page.contains("<ul class=\"entries\">"));
        assert!(list(&[], Lang::En).contains("No text has been adopted yet."));
    }

    #[test]
    fn the_entry_page_has_title_block_text_and_verification() {
        let sealed = archive(&[("bildung", "Leitbild Bildung", "2026-09-29")]);
        let (e, frozen) = &sealed[0];
        let page = entry(e, frozen, Lang::De);
        let title_block = &page[page.find("<header class=\"title-block\">").unwrap()..];
        let title_block = &title_block[..title_block.find("</header>").unwrap()];
        assert!(title_block.contains("<h1>Leitbild Bildung</h1>"));
        assert!(
            title_block.contains("Beschlossen am <time datetime=\"2026-09-29\">29.09.2026</time>")
        );
        assert!(title_block.contains("Lenkungsausschuss &lt;b&gt;Bildung&lt;/b&gt;"));
        assert!(title_block.contains("1. Fassung"));
        assert!(title_block.contains("Leitbild bildung"));
        assert!(page.contains(&format!(
            "<main class=\"adopted-text\">\n{}\n</main>",
            frozen.html
        )));

        let footer = &page[page.find("<footer class=\"verification\">").unwrap()..];
        assert!(footer.contains(&e.sha256));
        assert!(footer.contains(&e.entry_sha256));
        assert!(footer.contains("<code>sha256sum leitbild-a1.md</code>"));
        assert!(footer.contains("Laden Sie die"));
        assert!(footer.contains("href=\"/archive/a1\" data-absolute>/archive/a1</a>"));
        assert!(footer.contains("01.10.2026, 08:05 Uhr (UTC)"));
        assert!(footer.contains("Beschluss 12/2026\n&lt;i&gt;TOP 3&lt;/i&gt;"));
        assert!(footer.contains("erster Eintrag im Archiv"));

        for format in ["md", "html", "txt", "json", "docx"] {
            assert!(
                page.contains(&format!("href=\"/api/archive/a1?format={format}\"")),
                "{format}"
            );
        }
        assert!(page.contains("data-print"));
        assert!(page.contains("href=\"/archive?lang=de\""));
        // The server's CSP forbids inline scripts and style sheets.
        assert!(
            !page.contains("<style") && !page.contains("onclick") && !page.contains("<script>")
        );
        assert!(page.contains(&format!("href=\"{STYLESHEET_PATH}?v=")));
    }

    #[test]
    fn a_later_entry_names_the_hash_it_links_to() {
        let sealed = archive(&[
            ("bildung", "A", "2026-09-29"),
            ("bildung", "B", "2026-10-29"),
        ]);
        let (e, frozen) = &sealed[1];
        let page = entry(e, frozen, Lang::En);
        assert!(page.contains(&sealed[0].0.entry_sha256));
        assert!(page.contains("Adopted on <time datetime=\"2026-10-29\">29 October 2026</time>"));
        assert!(page.contains("1 October 2026, 08:05 UTC"));
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    }

    #[test]
    fn the_style_sheet_prints_a4_with_page_numbers_and_no_controls() {
        assert!(STYLESHEET.contains("size: A4;"));
        assert!(STYLESHEET.contains("@bottom-center"));
        assert!(STYLESHEET.contains("content: counter(page) \" / \" counter(pages);"));
        let print = &STYLESHEET[STYLESHEET.find("@media print").unwrap()..];
        assert!(print.contains(".no-print { display: none !important; }"));
        assert_eq!(
            STYLESHEET.matches('{').count(),
            STYLESHEET.matches('}').count()
        );
    }

    #[test]
    fn compare_names_both_editions_oldest_first_and_embeds_the_diff() {
        let sealed = archive(&[
            ("bildung", "Alt", "2025-03-01"),
            ("bildung", "Neu", "2026-09-29"),
        ]);
        let (old, new) = (&sealed[0].0, &sealed[1].0);
        let marker = "<section class=\"diff\">EMBEDDED</section>";
        for page in [
            compare(new, old, marker, Lang::De),
            compare(old, new, marker, Lang::De),
        ] {
            assert!(
                page.contains(
                    "<h1>1. Fassung (01.03.2025) und 2. Fassung (29.09.2026) im Vergleich</h1>"
                ),
                "{page}"
            );
            assert!(page.contains(marker));
            assert!(page.contains("<ins>eingefügt</ins>") && page.contains("<del>gelöscht</del>"));
            assert!(page.contains("href=\"/archive/a1?lang=de\""));
            assert!(page.contains("href=\"/archive/a2?lang=de\""));
        }
    }

    #[test]
    fn not_found_links_to_the_list() {
        let page = not_found(Lang::De);
        assert!(page.contains("<h1>Text nicht gefunden</h1>"));
        assert!(page.contains("href=\"/archive?lang=de\""));
        assert!(not_found(Lang::En).contains("Text not found"));
    }

    #[test]
    fn german_is_the_default_unless_english_ranks_higher() {
        let cases = [
            (None, Lang::De),
            (Some(""), Lang::De),
            (Some("de-DE,de;q=0.9,en;q=0.8"), Lang::De),
            (Some("en-US,en;q=0.9,de;q=0.8"), Lang::En),
            (Some("en-GB"), Lang::En),
            (Some("fr-FR,fr;q=0.9,en;q=0.5"), Lang::En),
            (Some("fr-FR,fr;q=0.9"), Lang::De),
            (Some("en;q=0,de;q=0.1"), Lang::De),
            (Some("en;q=0"), Lang::De),
            (Some("de, en"), Lang::De),
            (Some("en, de"), Lang::En),
            (Some("de;q=0.5, EN;Q=0.7"), Lang::En),
            (Some("en;q=banana, de;q=0.1"), Lang::De),
            (Some("*"), Lang::De),
            (Some(";;,,=;q=,"), Lang::De),
        ];
        for (header, expected) in cases {
            assert_eq!(Lang::from_accept_language(header), expected, "{header:?}");
        }
        assert_eq!(Lang::from_code("EN"), Some(Lang::En));
        assert_eq!(Lang::from_code("de"), Some(Lang::De));
        assert_eq!(Lang::from_code("fr"), None);
    }

    #[test]
    fn dates_are_written_as_readers_write_them() {
        assert_eq!(format_date("2026-09-29", Lang::De), "29.09.2026");
        assert_eq!(format_date("2026-01-05", Lang::En), "5 January 2026");
        assert_eq!(format_date("not a date", Lang::De), "not a date");
        assert_eq!(
            format_moment("2026-10-01T23:30:00+02:00", Lang::De),
            "01.10.2026, 21:30 Uhr (UTC)"
        );
    }

    fn p(text: &str) -> Block {
        Block {
            kind: BlockKind::Paragraph,
            runs: vec![Run {
                text: text.into(),
                marks: Vec::new(),
                author: None,
            }],
        }
    }

    #[test]
    fn diff_html_marks_inserted_and_deleted_words() {
        let from = [p("Wir lernen gemeinsam in der Schule.")];
        let to = [p("Wir lernen gemeinsam und gerne in der Region.")];
        let html = diff_html(&diff(&from, &to), Lang::De);
        assert!(html.contains("<ins>"), "{html}");
        assert!(html.contains("<del>Schule</del>"), "{html}");
        assert!(html.contains("<ins>Region</ins>"), "{html}");
        assert!(html.contains("Wörter eingefügt"), "{html}");
        assert!(
            html.contains("<strong>1</strong> Absatz geändert"),
            "{html}"
        );
        assert!(html.find("diff-summary").unwrap() < html.find("op-change").unwrap());
        assert!(
            !html.contains("verschoben"),
            "zero counts are left out: {html}"
        );
    }

    #[test]
    fn diff_html_escapes_text_and_marks_whole_blocks() {
        let from = [p("Erster Absatz bleibt."), p("<script>weg</script>")];
        let to = [p("Erster Absatz bleibt."), p("Neu & <b>fett</b>")];
        let html = diff_html(&diff(&from, &to), Lang::De);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&amp; &lt;b&gt;"), "{html}");
        assert!(
            html.contains("op-insert") && html.contains("op-delete"),
            "{html}"
        );
        assert!(html.contains("<span class=\"badge\">neu</span>"));
        assert!(html.contains("<span class=\"badge\">entfernt</span>"));
    }

    #[test]
    fn diff_html_marks_moved_blocks_and_folds_long_unchanged_runs() {
        let words = |i: usize| format!("Absatz Nummer {i} mit seinem eigenen Inhalt und Wortlaut.");
        let mut from: Vec<Block> = (0..10).map(|i| p(&words(i))).collect();
        let moved = p("Dieser besondere Absatz wandert vom Anfang ans Ende des Textes.");
        from.insert(0, moved.clone());
        let mut to: Vec<Block> = (0..10).map(|i| p(&words(i))).collect();
        to.push(moved);
        let d = diff(&from, &to);
        assert!(d.blocks.iter().any(|b| b.op == BlockOp::Move), "{d:?}");
        let html = diff_html(&d, Lang::En);
        assert!(html.contains("op-move"), "{html}");
        assert!(html.contains("<span class=\"badge\">moved</span>"));
        assert!(
            html.contains(
                "<details class=\"unchanged\"><summary>Show 9 unchanged paragraphs</summary>"
            ),
            "{html}"
        );
        // Folded, not dropped.
        for i in 0..10 {
            assert!(html.contains(&words(i)), "{i}");
        }
    }

    #[test]
    fn diff_html_says_when_nothing_changed() {
        let same = [p("Gleich.")];
        let html = diff_html(&diff(&same, &same), Lang::De);
        assert!(html.contains("stimmen im Text überein"));
        assert!(!html.contains("<ins>") && !html.contains("<del>"));
    }

    #[test]
    fn ordered_list_items_are_numbered_along_the_newer_text() {
        let item = |text: &str| Block {
            kind: BlockKind::ListItem {
                ordered: true,
                depth: 0,
            },
            ..p(text)
        };
        let to = [item("Eins"), item("Zwei"), item("Drei")];
        let html = diff_html(&diff(&[], &to), Lang::De);
        for n in ["1.", "2.", "3."] {
            assert!(
                html.contains(&format!("aria-hidden=\"true\">{n}</span>")),
                "{n}: {html}"
            );
        }
    }
}
