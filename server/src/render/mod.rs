//! Rendering: the Tiptap `XmlFragment` named `default` as Markdown, HTML, plain text or Word.
//!
//! This module owns the reading of y-prosemirror's storage layout and the event model the
//! renderers share; `html` and `lines` (Markdown and plain text) turn events into text,
//! `docx` into a Word file. They take a `Doc` and return a value. They must not do I/O,
//! spawn tasks or know about HTTP.
//!
//! y-prosemirror stores every ProseMirror node as an `XmlElement` whose tag is the node type
//! name (`paragraph`, `heading`, `bulletList`, ...). Node attributes become element
//! attributes holding the JSON value as it was (`level: 2` arrives as a number, not a
//! string; `null` attributes are not stored at all). The text of a textblock is one
//! `XmlText` per run of text nodes, whose delta carries one formatting attribute per mark,
//! named after the mark type and valued with the mark's attrs (`bold: {}`,
//! `link: {href, ..}`). Marks that may overlap themselves get a `--<8 char hash>` suffix.
//!
//! The tree comes from peers and may be hostile, so it is walked with an explicit stack,
//! never by recursion, and structure nested deeper than [`MAX_NESTING`] is flattened: the
//! text is kept, the extra quote and list prefixes are not. That bounds both the stack and
//! the output size (a line's prefix cannot grow with the document's depth).

pub mod docx;
#[cfg(test)]
mod fixture;
mod html;
mod lines;

use std::str::FromStr;

use yrs::types::text::YChange;
use yrs::{Any, Doc, Out, ReadTxn, Text, Transact, Xml, XmlElementRef, XmlFragment, XmlOut};

use html::html;
use lines::{Lines, Style};

/// Quotes and lists nested deeper than this are rendered flat.
pub const MAX_NESTING: usize = 32;

/// An output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Text,
}

impl Format {
    /// The HTTP content type of a text in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Text => "text/plain; charset=utf-8",
        }
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected md, html or txt")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "txt" => Ok(Format::Text),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

/// Renders the document's `default` fragment.
///
/// Takes a read transaction, so the caller must not hold a write transaction on `doc`.
pub fn render(doc: &Doc, format: Format) -> String {
    let events = events(doc);
    match format {
        Format::Html => html(&events),
        Format::Markdown => Lines::new(Style::Markdown).run(&events),
        Format::Text => Lines::new(Style::Text).run(&events),
    }
}

/// The document's `default` fragment as events. Takes a read transaction, like [`render`].
fn events(doc: &Doc) -> Vec<Event> {
    let txn = doc.transact();
    // A plain read: a fragment that no one created yet is an empty document, and reading
    // must not create it (that would be a write).
    let Some(root) = txn.get_xml_fragment("default") else {
        return Vec::new();
    };
    walk(&txn, root.children(&txn).collect())
}

// ---------------------------------------------------------------------------------------
// The document model the renderers see: a flat event stream, so that no renderer recurses.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Quote,
    Bullet,
    Ordered {
        start: u64,
    },
    Item,
    /// An unknown node, or one nested too deep: its children render, it adds nothing.
    Plain,
}

impl Container {
    fn is_list(self) -> bool {
        matches!(self, Container::Bullet | Container::Ordered { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Paragraph(Vec<Inline>),
    Heading(usize, Vec<Inline>),
    Code {
        language: Option<String>,
        text: String,
    },
    Rule,
}

#[derive(Debug, Clone, PartialEq)]
enum Inline {
    Text(String, Marks),
    Break,
    Image { src: Option<String>, alt: String },
}

/// The marks of one text run. A link is only kept when its target is safe.
#[derive(Debug, Clone, Default, PartialEq)]
struct Marks {
    link: Option<String>,
    bold: bool,
    italic: bool,
    strike: bool,
    underline: bool,
    code: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Enter(Container),
    Exit(Container),
    Block(Block),
}

struct Frame {
    container: Container,
    children: Vec<XmlOut>,
    next: usize,
}

/// Flattens the tree under `root` into events, with an explicit stack.
fn walk<T: ReadTxn>(txn: &T, root: Vec<XmlOut>) -> Vec<Event> {
    let mut events = Vec::new();
    let mut stack = vec![Frame {
        container: Container::Plain,
        children: root,
        next: 0,
    }];
    // Quotes, lists and items on the stack: what adds a prefix to a Markdown line.
    let mut depth = 0usize;
    while let Some(frame) = stack.last_mut() {
        if frame.next >= frame.children.len() {
            let container = frame.container;
            stack.pop();
            if stack.is_empty() {
                break;
            }
            if container != Container::Plain {
                depth -= 1;
            }
            events.push(Event::Exit(container));
            continue;
        }
        let in_list = frame.container.is_list();
        if is_inline(&frame.children[frame.next]) {
            // Text directly inside a block container (no paragraph around it) is kept as an
            // implicit paragraph.
            let start = frame.next;
            while frame.next < frame.children.len() && is_inline(&frame.children[frame.next]) {
                frame.next += 1;
            }
            let block = Block::Paragraph(inlines(txn, &frame.children[start..frame.next]));
            if in_list {
                events.push(Event::Enter(Container::Item));
                events.push(Event::Block(block));
                events.push(Event::Exit(Container::Item));
            } else {
                events.push(Event::Block(block));
            }
            continue;
        }
        let child = frame.children[frame.next].clone();
        frame.next += 1;
        let element = match child {
            XmlOut::Element(element) => element,
            XmlOut::Fragment(fragment) => {
                stack.push(Frame {
                    container: Container::Plain,
                    children: fragment.children(txn).collect(),
                    next: 0,
                });
                events.push(Event::Enter(Container::Plain));
                continue;
            }
            XmlOut::Text(_) => continue, // handled as inline above
        };
        let tag: &str = element.tag();
        if in_list && tag != "listItem" {
            // Markdown cannot hold a block directly in a list: give it an item of its own.
            depth += 1;
            stack.push(Frame {
                container: Container::Item,
                children: vec![XmlOut::Element(element)],
                next: 0,
            });
            events.push(Event::Enter(Container::Item));
            continue;
        }
        let container = match tag {
            "paragraph" => {
                let children: Vec<XmlOut> = element.children(txn).collect();
                events.push(Event::Block(Block::Paragraph(inlines(txn, &children))));
                continue;
            }
            "heading" => {
                let level = attr_number(txn, &element, "level")
                    .map(|l| l.clamp(1.0, 6.0) as usize)
                    .unwrap_or(1);
                let children: Vec<XmlOut> = element.children(txn).collect();
                events.push(Event::Block(Block::Heading(level, inlines(txn, &children))));
                continue;
            }
            "codeBlock" => {
                let language = attr_string(txn, &element, "language").filter(|l| is_language(l));
                let children: Vec<XmlOut> = element.children(txn).collect();
                let text = plain(&inlines(txn, &children));
                events.push(Event::Block(Block::Code { language, text }));
                continue;
            }
            "horizontalRule" => {
                events.push(Event::Block(Block::Rule));
                continue;
            }
            // Items always count, so that a list is never left without its items.
            "listItem" if in_list => Container::Item,
            _ if depth >= MAX_NESTING => Container::Plain,
            "blockquote" => Container::Quote,
            "bulletList" => Container::Bullet,
            "orderedList" => {
                let start = attr_number(txn, &element, "start")
                    .map(|n| n.clamp(0.0, 999_999_999.0) as u64)
                    .unwrap_or(1);
                Container::Ordered { start }
            }
            _ => Container::Plain,
        };
        if container != Container::Plain {
            depth += 1;
        }
        stack.push(Frame {
            container,
            children: element.children(txn).collect(),
            next: 0,
        });
        events.push(Event::Enter(container));
    }
    events
}

/// Whether a node belongs inside a textblock rather than being a block itself.
fn is_inline(node: &XmlOut) -> bool {
    match node {
        XmlOut::Text(_) => true,
        XmlOut::Element(e) => matches!(&**e.tag(), "hardBreak" | "image"),
        XmlOut::Fragment(_) => false,
    }
}

/// The inline content under `nodes`, in document order. Unknown inline nodes contribute
/// their children; the walk uses an explicit stack.
fn inlines<T: ReadTxn>(txn: &T, nodes: &[XmlOut]) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut todo: Vec<XmlOut> = nodes.iter().rev().cloned().collect();
    while let Some(node) = todo.pop() {
        match node {
            XmlOut::Text(text) => {
                for chunk in text.diff(txn, YChange::identity) {
                    // y-prosemirror never embeds values in text; skip them if a peer does.
                    let Out::Any(Any::String(s)) = chunk.insert else {
                        continue;
                    };
                    let marks = chunk.attributes.map(|a| marks(&a)).unwrap_or_default();
                    out.push(Inline::Text(s.to_string(), marks));
                }
            }
            XmlOut::Element(element) => match &**element.tag() {
                "hardBreak" => out.push(Inline::Break),
                "image" => out.push(Inline::Image {
                    src: attr_string(txn, &element, "src").and_then(|s| safe_url(&s, false)),
                    alt: attr_string(txn, &element, "alt").unwrap_or_default(),
                }),
                _ => {
                    let children: Vec<XmlOut> = element.children(txn).collect();
                    todo.extend(children.into_iter().rev());
                }
            },
            XmlOut::Fragment(fragment) => {
                let children: Vec<XmlOut> = fragment.children(txn).collect();
                todo.extend(children.into_iter().rev());
            }
        }
    }
    out
}

/// Reads the marks from a text run's formatting attributes. A mark is on when its attribute
/// is present and not null; unknown marks are ignored (their text is kept).
fn marks(attributes: &yrs::types::Attrs) -> Marks {
    let mut marks = Marks::default();
    for (name, value) in attributes.iter() {
        if matches!(value, Any::Null | Any::Undefined) {
            continue;
        }
        match mark_name(name) {
            "bold" => marks.bold = true,
            "italic" => marks.italic = true,
            "strike" => marks.strike = true,
            "underline" => marks.underline = true,
            "code" => marks.code = true,
            "link" => {
                if let Any::Map(attrs) = value {
                    if let Some(Any::String(href)) = attrs.get("href") {
                        marks.link = safe_url(href, true);
                    }
                }
            }
            _ => {}
        }
    }
    marks
}

/// The mark type of a formatting attribute: y-prosemirror names a mark that may overlap
/// itself `name--XXXXXXXX` (an 8 character base64 hash of the mark).
pub(crate) fn mark_name(attribute: &str) -> &str {
    if let Some((name, hash)) = attribute.rsplit_once("--") {
        if hash.len() == 8
            && hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return name;
        }
    }
    attribute
}

/// A number attribute. ProseMirror stores numbers as JSON numbers, which arrive as
/// `Any::Number` (an integer or a float); older or foreign writers may store strings.
pub(crate) fn attr_number<T: ReadTxn>(txn: &T, element: &XmlElementRef, name: &str) -> Option<f64> {
    let n = match element.get_attribute(txn, name)? {
        Out::Any(Any::Number(n)) => n.as_f64()?,
        Out::Any(Any::String(s)) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n.trunc())
}

fn attr_string<T: ReadTxn>(txn: &T, element: &XmlElementRef, name: &str) -> Option<String> {
    match element.get_attribute(txn, name)? {
        Out::Any(Any::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// A code block language we can put in a fence info string or a class name unchanged.
fn is_language(language: &str) -> bool {
    !language.is_empty()
        && language.len() <= 32
        && language
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.' | b'#'))
}

/// `url` if its scheme is http or https (or mailto for links), else `None`. Relative and
/// `javascript:` targets are dropped; the text they were on is kept.
fn safe_url(url: &str, allow_mailto: bool) -> Option<String> {
    let url = url.trim_matches(|c: char| c.is_ascii_whitespace() || c.is_ascii_control());
    // Browsers drop tabs and newlines inside a URL, so "java\tscript:" would pass a naive
    // scheme check: refuse control characters outright.
    if url.chars().any(|c| c.is_control()) {
        return None;
    }
    let (scheme, rest) = url.split_once(':')?;
    let ok = scheme.eq_ignore_ascii_case("http")
        || scheme.eq_ignore_ascii_case("https")
        || (allow_mailto && scheme.eq_ignore_ascii_case("mailto"));
    (ok && !rest.is_empty()).then(|| url.to_owned())
}

/// The text of inline content, with hard breaks as newlines and images as their alt text.
fn plain(inlines: &[Inline]) -> String {
    let mut out = String::new();
    for inline in inlines {
        match inline {
            Inline::Text(text, _) => out.push_str(text),
            Inline::Break => out.push('\n'),
            Inline::Image { alt, .. } => out.push_str(alt),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use yrs::{Any, XmlElementPrelim, XmlTextPrelim};

    use super::fixture::*;
    use super::*;

    #[test]
    fn format_names() {
        assert_eq!("md".parse(), Ok(Format::Markdown));
        assert_eq!("html".parse(), Ok(Format::Html));
        assert_eq!("txt".parse(), Ok(Format::Text));
        assert_eq!(
            "pdf".parse::<Format>(),
            Err(UnknownFormat("pdf".to_owned()))
        );
    }

    #[test]
    fn empty_document() {
        let d = Doc::new();
        assert_eq!(render(&d, Format::Markdown), "");
        assert_eq!(render(&d, Format::Html), "");
        assert_eq!(render(&d, Format::Text), "");
        // The fragment exists but is empty, or holds only an empty paragraph.
        assert_eq!(all(&[]), (String::new(), String::new(), String::new()));
        let (md, html, txt) = all(&[E("paragraph", vec![], vec![])]);
        assert_eq!(md, "");
        assert_eq!(html, "<p></p>\n");
        assert_eq!(txt, "");
    }

    #[test]
    fn headings() {
        let (md, html, txt) = all(&[h(1, "Eins"), h(2, "Zwei"), h(3, "Drei"), p("Text")]);
        assert_eq!(md, "# Eins\n\n## Zwei\n\n### Drei\n\nText\n");
        assert_eq!(
            html,
            "<h1>Eins</h1>\n<h2>Zwei</h2>\n<h3>Drei</h3>\n<p>Text</p>\n"
        );
        assert_eq!(txt, "Eins\n\nZwei\n\nDrei\n\nText\n");
    }

    #[test]
    fn heading_level_as_string_float_or_out_of_range() {
        let heading = |level: Any| {
            E(
                "heading",
                vec![("level", level)],
                vec![T(vec![("H", vec![])])],
            )
        };
        let (md, _, _) = all(&[
            heading(Any::from("2")),
            heading(Any::from(3.0)),
            heading(Any::from(9)),
            heading(Any::from(0)),
            E("heading", vec![], vec![T(vec![("H", vec![])])]),
        ]);
        assert_eq!(md, "## H\n\n### H\n\n###### H\n\n# H\n\n# H\n");
    }

    #[test]
    fn each_mark() {
        let href = Any::Map(Arc::new(HashMap::from([(
            "href".to_owned(),
            Any::from("https://example.org/a b"),
        )])));
        let (md, html, txt) = all(&[E(
            "paragraph",
            vec![],
            vec![T(vec![
                ("fett", vec![("bold", empty())]),
                (" ", vec![]),
                ("kursiv", vec![("italic", empty())]),
                (" ", vec![]),
                ("durch", vec![("strike", empty())]),
                (" ", vec![]),
                ("code", vec![("code", empty())]),
                (" ", vec![]),
                ("unter", vec![("underline", empty())]),
                (" ", vec![]),
                ("Link", vec![("link", href)]),
            ])],
        )]);
        assert_eq!(
            md,
            "**fett** *kursiv* ~~durch~~ `code` unter [Link](https://example.org/a%20b)\n"
        );
        assert_eq!(
            html,
            "<p><strong>fett</strong> <em>kursiv</em> <s>durch</s> <code>code</code> \
             <u>unter</u> <a href=\"https://example.org/a b\">Link</a></p>\n"
        );
        assert_eq!(txt, "fett kursiv durch code unter Link\n");
    }

    #[test]
    fn null_marks_are_off_and_hashed_mark_names_are_read() {
        let (md, _, _) = all(&[E(
            "paragraph",
            vec![],
            vec![T(vec![
                ("x", vec![("bold", Any::Null)]),
                ("y", vec![("italic--AbCd+/8=", empty())]),
            ])],
        )]);
        assert_eq!(md, "x*y*\n");
    }

    #[test]
    fn unsafe_links_are_dropped_text_kept() {
        let link = |href: &str| {
            Any::Map(Arc::new(HashMap::from([(
                "href".to_owned(),
                Any::from(href),
            )])))
        };
        let (md, html, _) = all(&[E(
            "paragraph",
            vec![],
            vec![T(vec![
                ("a", vec![("link", link("javascript:alert(1)"))]),
                (" ", vec![]),
                ("b", vec![("link", link("java\tscript:x"))]),
                (" ", vec![]),
                ("c", vec![("link", link("/relative"))]),
                (" ", vec![]),
                ("d", vec![("link", link("mailto:a@b.de"))]),
            ])],
        )]);
        assert_eq!(md, "a b c [d](mailto:a@b.de)\n");
        assert_eq!(html, "<p>a b c <a href=\"mailto:a@b.de\">d</a></p>\n");
    }

    #[test]
    fn nested_lists_three_levels() {
        let nodes = [
            ul(vec![
                li(vec![
                    p("eins"),
                    ul(vec![li(vec![
                        p("zwei"),
                        ol(1, vec![li(vec![p("drei")]), li(vec![p("vier")])]),
                    ])]),
                ]),
                li(vec![p("fünf")]),
            ]),
            ol(3, vec![li(vec![p("drei")]), li(vec![p("vier")])]),
        ];
        let (md, html, txt) = all(&nodes);
        assert_eq!(
            md,
            "- eins\n  - zwei\n    1. drei\n    2. vier\n- fünf\n\n3. drei\n4. vier\n"
        );
        assert_eq!(
            txt,
            "- eins\n  - zwei\n    1. drei\n    2. vier\n- fünf\n\n3. drei\n4. vier\n"
        );
        assert_eq!(
            html,
            "<ul>\n<li>\n<p>eins</p>\n<ul>\n<li>\n<p>zwei</p>\n<ol>\n<li>\n<p>drei</p>\n</li>\n\
             <li>\n<p>vier</p>\n</li>\n</ol>\n</li>\n</ul>\n</li>\n<li>\n<p>fünf</p>\n</li>\n\
             </ul>\n<ol start=\"3\">\n<li>\n<p>drei</p>\n</li>\n<li>\n<p>vier</p>\n</li>\n</ol>\n"
        );
    }

    #[test]
    fn blockquotes_with_lists_inside() {
        let (md, html, txt) = all(&[
            quote(vec![
                p("Zitat"),
                ul(vec![li(vec![p("a")]), li(vec![p("b")])]),
                quote(vec![p("innen")]),
            ]),
            quote(vec![p("zweites")]),
        ]);
        assert_eq!(md, "> Zitat\n>\n> - a\n> - b\n>\n> > innen\n\n> zweites\n");
        assert_eq!(txt, md);
        assert_eq!(
            html,
            "<blockquote>\n<p>Zitat</p>\n<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n\
             </ul>\n<blockquote>\n<p>innen</p>\n</blockquote>\n</blockquote>\n\
             <blockquote>\n<p>zweites</p>\n</blockquote>\n"
        );
    }

    #[test]
    fn code_block_rule_and_hard_break() {
        let (md, html, txt) = all(&[
            E(
                "codeBlock",
                vec![("language", Any::from("rust"))],
                vec![T(vec![("let a = \"<x>\";\n\nlet b = ```;", vec![])])],
            ),
            E("horizontalRule", vec![], vec![]),
            E(
                "paragraph",
                vec![],
                vec![
                    T(vec![("Zeile eins", vec![])]),
                    E("hardBreak", vec![], vec![]),
                    T(vec![("- zwei", vec![])]),
                ],
            ),
        ]);
        assert_eq!(
            md,
            "````rust\nlet a = \"<x>\";\n\nlet b = ```;\n````\n\n---\n\nZeile eins\\\n\\- zwei\n"
        );
        assert_eq!(
            html,
            "<pre><code class=\"language-rust\">let a = &quot;&lt;x&gt;&quot;;\n\nlet b = ```;\
             </code></pre>\n<hr>\n<p>Zeile eins<br>- zwei</p>\n"
        );
        assert_eq!(
            txt,
            "let a = \"<x>\";\n\nlet b = ```;\n\n---\n\nZeile eins\n- zwei\n"
        );
    }

    #[test]
    fn non_ascii_text_is_preserved() {
        let (md, html, txt) = all(&[h(2, "Übergang Schule–Beruf"), p("Größe „Ä“ 🎓")]);
        assert_eq!(md, "## Übergang Schule–Beruf\n\nGröße „Ä“ 🎓\n");
        assert_eq!(
            html,
            "<h2>Übergang Schule–Beruf</h2>\n<p>Größe „Ä“ 🎓</p>\n"
        );
        assert_eq!(txt, "Übergang Schule–Beruf\n\nGröße „Ä“ 🎓\n");
    }

    #[test]
    fn unknown_nodes_render_their_children() {
        let (md, _, txt) = all(&[
            E(
                "callout",
                vec![],
                vec![p("innen"), T(vec![("lose", vec![])])],
            ),
            E(
                "paragraph",
                vec![],
                vec![E("mention", vec![], vec![T(vec![("@anna", vec![])])])],
            ),
        ]);
        assert_eq!(md, "innen\n\nlose\n\n@anna\n");
        assert_eq!(txt, "innen\n\nlose\n\n@anna\n");
    }

    /// 10,000 nested blockquotes, built with yrs directly; rendering must neither recurse
    /// nor grow each line's prefix beyond `MAX_NESTING`.
    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 10_000;
        let doc = Doc::new();
        let fragment = doc.get_or_insert_xml_fragment("default");
        {
            let mut txn = doc.transact_mut();
            let mut parent = fragment.push_back(&mut txn, XmlElementPrelim::empty("blockquote"));
            for _ in 1..depth {
                parent = parent.push_back(&mut txn, XmlElementPrelim::empty("blockquote"));
            }
            let para = parent.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            para.push_back(&mut txn, XmlTextPrelim::new("tief"));
        }
        let md = render(&doc, Format::Markdown);
        assert_eq!(md, format!("{}tief\n", "> ".repeat(MAX_NESTING)));
        let txt = render(&doc, Format::Text);
        assert_eq!(txt, md);
        let html = render(&doc, Format::Html);
        let open = "<blockquote>\n".repeat(MAX_NESTING);
        let close = "</blockquote>\n".repeat(MAX_NESTING);
        assert_eq!(html, format!("{open}<p>tief</p>\n{close}"));
    }

    #[test]
    fn deep_list_nesting_is_flattened() {
        let doc = Doc::new();
        let fragment = doc.get_or_insert_xml_fragment("default");
        {
            let mut txn = doc.transact_mut();
            let mut parent = fragment.push_back(&mut txn, XmlElementPrelim::empty("bulletList"));
            for _ in 0..10_000 {
                let item = parent.push_back(&mut txn, XmlElementPrelim::empty("listItem"));
                let para = item.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                para.push_back(&mut txn, XmlTextPrelim::new("x"));
                parent = item.push_back(&mut txn, XmlElementPrelim::empty("bulletList"));
            }
        }
        for format in [Format::Markdown, Format::Text] {
            let out = render(&doc, format);
            assert_eq!(out.matches('x').count(), 10_000);
            assert!(
                out.lines().all(|l| l.len() <= 2 * MAX_NESTING + 3),
                "{format:?}"
            );
        }
        let html = render(&doc, Format::Html);
        assert_eq!(html.matches("<p>x</p>").count(), 10_000);
        assert_eq!(html.matches("<ul>").count(), html.matches("</ul>").count());
    }

    #[test]
    fn deep_inline_nesting_does_not_overflow() {
        let doc = Doc::new();
        let fragment = doc.get_or_insert_xml_fragment("default");
        {
            let mut txn = doc.transact_mut();
            let mut parent = fragment.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            for _ in 0..10_000 {
                parent = parent.push_back(&mut txn, XmlElementPrelim::empty("span"));
            }
            parent.push_back(&mut txn, XmlTextPrelim::new("innen"));
        }
        assert_eq!(render(&doc, Format::Markdown), "innen\n");
    }
}
