//! Text rendering: the Tiptap `XmlFragment` named `default` as Markdown, HTML or plain text.
//!
//! This module owns the reading of y-prosemirror's storage layout and nothing else: it takes
//! a `Doc` and returns a `String`. It must not do I/O, spawn tasks or know about HTTP.
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

use std::fmt::Write as _;
use std::str::FromStr;

use yrs::types::text::YChange;
use yrs::{Any, Doc, Out, ReadTxn, Text, Transact, Xml, XmlElementRef, XmlFragment, XmlOut};

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
    let txn = doc.transact();
    // A plain read: a fragment that no one created yet is an empty document, and reading
    // must not create it (that would be a write).
    let Some(root) = txn.get_xml_fragment("default") else {
        return String::new();
    };
    let events = walk(&txn, root.children(&txn).collect());
    match format {
        Format::Html => html(&events),
        Format::Markdown => Lines::new(Style::Markdown).run(&events),
        Format::Text => Lines::new(Style::Text).run(&events),
    }
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

// ---------------------------------------------------------------------------------------
// HTML: one tag per line for blocks; all text and attribute values escaped.

fn html(events: &[Event]) -> String {
    let mut out = String::new();
    for event in events {
        match event {
            Event::Enter(Container::Ordered { start }) if *start != 1 => {
                let _ = writeln!(out, "<ol start=\"{start}\">");
            }
            Event::Enter(c) => out.push_str(match c {
                Container::Quote => "<blockquote>\n",
                Container::Bullet => "<ul>\n",
                Container::Ordered { .. } => "<ol>\n",
                Container::Item => "<li>\n",
                Container::Plain => "",
            }),
            Event::Exit(c) => out.push_str(match c {
                Container::Quote => "</blockquote>\n",
                Container::Bullet => "</ul>\n",
                Container::Ordered { .. } => "</ol>\n",
                Container::Item => "</li>\n",
                Container::Plain => "",
            }),
            Event::Block(Block::Paragraph(inlines)) => {
                let _ = writeln!(out, "<p>{}</p>", html_inline(inlines));
            }
            Event::Block(Block::Heading(level, inlines)) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html_inline(inlines));
            }
            Event::Block(Block::Code { language, text }) => {
                out.push_str("<pre><code");
                if let Some(language) = language {
                    let _ = write!(out, " class=\"language-{}\"", escape_html(language));
                }
                let _ = writeln!(out, ">{}</code></pre>", escape_html(text));
            }
            Event::Block(Block::Rule) => out.push_str("<hr>\n"),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum HtmlMark {
    Link(String),
    Strong,
    Em,
    S,
    U,
    Code,
}

impl HtmlMark {
    /// The marks of a run, outermost first. A fixed order keeps the output canonical and
    /// lets a run share the longest possible prefix of open tags with the previous one.
    fn of(marks: &Marks) -> Vec<HtmlMark> {
        let mut out = Vec::new();
        if let Some(href) = &marks.link {
            out.push(HtmlMark::Link(href.clone()));
        }
        for (on, mark) in [
            (marks.bold, HtmlMark::Strong),
            (marks.italic, HtmlMark::Em),
            (marks.strike, HtmlMark::S),
            (marks.underline, HtmlMark::U),
            (marks.code, HtmlMark::Code),
        ] {
            if on {
                out.push(mark);
            }
        }
        out
    }

    fn open(&self, out: &mut String) {
        match self {
            HtmlMark::Link(href) => {
                let _ = write!(out, "<a href=\"{}\">", escape_html(href));
            }
            HtmlMark::Strong => out.push_str("<strong>"),
            HtmlMark::Em => out.push_str("<em>"),
            HtmlMark::S => out.push_str("<s>"),
            HtmlMark::U => out.push_str("<u>"),
            HtmlMark::Code => out.push_str("<code>"),
        }
    }

    fn close(&self, out: &mut String) {
        out.push_str(match self {
            HtmlMark::Link(_) => "</a>",
            HtmlMark::Strong => "</strong>",
            HtmlMark::Em => "</em>",
            HtmlMark::S => "</s>",
            HtmlMark::U => "</u>",
            HtmlMark::Code => "</code>",
        });
    }
}

fn html_inline(inlines: &[Inline]) -> String {
    let mut out = String::new();
    let mut open: Vec<HtmlMark> = Vec::new();
    for inline in inlines {
        match inline {
            Inline::Text(text, marks) => {
                let want = HtmlMark::of(marks);
                let keep = open.iter().zip(&want).take_while(|(a, b)| a == b).count();
                for mark in open.drain(keep..).rev() {
                    mark.close(&mut out);
                }
                for mark in &want[keep..] {
                    mark.open(&mut out);
                }
                open = want;
                out.push_str(&escape_html(text));
            }
            Inline::Break => out.push_str("<br>"),
            Inline::Image {
                src: Some(src),
                alt,
            } => {
                let _ = write!(
                    out,
                    "<img src=\"{}\" alt=\"{}\">",
                    escape_html(src),
                    escape_html(alt)
                );
            }
            Inline::Image { src: None, alt } => out.push_str(&escape_html(alt)),
        }
    }
    for mark in open.iter().rev() {
        mark.close(&mut out);
    }
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Markdown and plain text: line-based, with a prefix per line from the enclosing quotes and
// list items.

/// Plain text has the same layout as Markdown (`> ` before quoted lines, `- ` and `1. `
/// list markers) but no marks, no escaping, no heading hashes and no code fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Markdown,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// A blank line: between blocks in general.
    Blank,
    /// No blank line: between the items of a list, and before a list nested in an item.
    Tight,
}

#[derive(Debug)]
enum Ctx {
    Root,
    Plain,
    Quote,
    List {
        ordered: bool,
        next: u64,
        marker: char,
    },
    Item {
        marker: String,
    },
}

#[derive(Debug)]
struct LineFrame {
    ctx: Ctx,
    /// Whether a line was written under this frame (its first-line marker is used up).
    started: bool,
    children: usize,
    /// The separator this frame was entered with, for an empty quote or item.
    sep: Sep,
    /// The marker of the list just before the current child, if that child follows a list.
    prev_list: Option<char>,
}

struct Lines {
    style: Style,
    out: String,
    stack: Vec<LineFrame>,
    /// Indexes into `stack` of the frames that add a prefix (quotes and items), so that
    /// prefixing a line does not walk flattened frames.
    prefixed: Vec<usize>,
    pending: Sep,
}

impl Lines {
    fn new(style: Style) -> Self {
        Lines {
            style,
            out: String::new(),
            stack: vec![LineFrame {
                ctx: Ctx::Root,
                started: false,
                children: 0,
                sep: Sep::Blank,
                prev_list: None,
            }],
            prefixed: Vec::new(),
            pending: Sep::Blank,
        }
    }

    fn run(mut self, events: &[Event]) -> String {
        for event in events {
            match event {
                Event::Enter(c) => self.enter(*c),
                Event::Exit(_) => self.exit(),
                Event::Block(block) => {
                    self.child(Sep::Blank);
                    self.block(block);
                }
            }
        }
        self.out
    }

    /// Accounts for a new child of the current frame; `sep` is its separator from a
    /// previous sibling. A first child keeps the separator its parent was entered with.
    fn child(&mut self, sep: Sep) -> Option<char> {
        let parent = self.stack.last_mut()?;
        if parent.children > 0 {
            self.pending = sep;
        }
        parent.children += 1;
        parent.prev_list.take()
    }

    fn enter(&mut self, container: Container) {
        let parent_is_item = matches!(self.stack.last().map(|f| &f.ctx), Some(Ctx::Item { .. }));
        let sep = match container {
            Container::Item => Sep::Tight,
            // An ordered list not starting at 1 cannot interrupt a paragraph.
            Container::Bullet | Container::Ordered { start: 1 } if parent_is_item => Sep::Tight,
            _ => Sep::Blank,
        };
        let prev_list = self.child(sep);
        let markdown = self.style == Style::Markdown;
        let ctx = match container {
            Container::Quote => Ctx::Quote,
            Container::Plain => Ctx::Plain,
            // Two lists in a row would merge into one in Markdown: a different marker
            // keeps them apart.
            Container::Bullet => Ctx::List {
                ordered: false,
                next: 0,
                marker: if markdown && prev_list == Some('-') {
                    '*'
                } else {
                    '-'
                },
            },
            Container::Ordered { start } => Ctx::List {
                ordered: true,
                next: start,
                marker: if markdown && prev_list == Some('.') {
                    ')'
                } else {
                    '.'
                },
            },
            Container::Item => {
                let marker = match self.stack.last_mut().map(|f| &mut f.ctx) {
                    Some(Ctx::List {
                        ordered: true,
                        next,
                        marker,
                    }) => {
                        let n = *next;
                        *next = next.saturating_add(1);
                        format!("{n}{marker} ")
                    }
                    Some(Ctx::List { marker, .. }) => format!("{marker} "),
                    _ => "- ".to_owned(),
                };
                Ctx::Item { marker }
            }
        };
        if matches!(ctx, Ctx::Quote | Ctx::Item { .. }) {
            self.prefixed.push(self.stack.len());
        }
        self.stack.push(LineFrame {
            ctx,
            started: false,
            children: 0,
            sep: self.pending,
            prev_list: None,
        });
    }

    fn exit(&mut self) {
        let prefixed = matches!(
            self.stack.last().map(|f| &f.ctx),
            Some(Ctx::Quote | Ctx::Item { .. })
        );
        if prefixed {
            if let Some(frame) = self.stack.last() {
                if !frame.started {
                    // An empty quote or item still shows: a lone `>` or `-`.
                    self.pending = frame.sep;
                    self.begin();
                    self.line("");
                }
            }
            self.prefixed.pop();
        }
        if self.stack.len() <= 1 {
            return; // unbalanced events; never pop the root
        }
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if let (Ctx::List { marker, .. }, Some(parent)) = (frame.ctx, self.stack.last_mut()) {
            parent.prev_list = Some(marker);
        }
    }

    /// Writes the separator before a block's first line.
    fn begin(&mut self) {
        if self.out.is_empty() || self.pending == Sep::Tight {
            return;
        }
        // A blank line only carries the prefixes already in use: a new quote's `>` on it
        // would join the new quote to the previous one.
        let mut prefix = String::new();
        for &i in &self.prefixed {
            let frame = &self.stack[i];
            match &frame.ctx {
                Ctx::Quote if frame.started => prefix.push('>'),
                Ctx::Item { marker } if frame.started => {
                    prefix.extend(std::iter::repeat_n(' ', marker.len()))
                }
                _ => {}
            }
        }
        self.out.push_str(prefix.trim_end());
        self.out.push('\n');
    }

    /// Writes one line under the current prefixes.
    fn line(&mut self, content: &str) {
        let start = self.out.len();
        for &i in &self.prefixed {
            let frame = &mut self.stack[i];
            match &frame.ctx {
                Ctx::Quote => self.out.push_str("> "),
                Ctx::Item { marker } if !frame.started => self.out.push_str(marker),
                Ctx::Item { marker } => self.out.extend(std::iter::repeat_n(' ', marker.len())),
                _ => {}
            }
            frame.started = true;
        }
        if content.is_empty() {
            let trimmed = self.out[start..].trim_end().len();
            self.out.truncate(start + trimmed);
        } else {
            self.out.push_str(content);
        }
        self.out.push('\n');
    }

    fn block(&mut self, block: &Block) {
        match (self.style, block) {
            (Style::Markdown, Block::Paragraph(inlines)) => {
                let text = markdown_inline(inlines, false);
                if !text.is_empty() {
                    self.begin();
                    for line in text.split('\n') {
                        self.line(line);
                    }
                }
            }
            (Style::Markdown, Block::Heading(level, inlines)) => {
                let text = markdown_inline(inlines, true);
                let hashes = "#".repeat(*level);
                self.begin();
                if text.is_empty() {
                    self.line(&hashes);
                } else {
                    self.line(&format!("{hashes} {text}"));
                }
            }
            (Style::Markdown, Block::Code { language, text }) => {
                let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
                self.begin();
                self.line(&format!("{fence}{}", language.as_deref().unwrap_or("")));
                if !text.is_empty() {
                    for line in text.split('\n') {
                        self.line(line);
                    }
                }
                self.line(&fence);
            }
            (_, Block::Rule) => {
                self.begin();
                self.line("---");
            }
            (Style::Text, Block::Paragraph(inlines) | Block::Heading(_, inlines)) => {
                let text = plain(inlines);
                self.text_lines(&text);
            }
            (Style::Text, Block::Code { text, .. }) => self.text_lines(text),
        }
    }

    fn text_lines(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.begin();
        for line in text.split('\n') {
            self.line(line);
        }
    }
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for x in text.chars() {
        current = if x == c { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

#[derive(Debug, Clone, PartialEq)]
enum MdMark {
    Link(String),
    Bold,
    Italic,
    Strike,
}

impl MdMark {
    /// The delimited marks of a run, outermost first. Markdown has no underline (its text
    /// is kept), and code is written as a whole span per run, innermost.
    fn of(marks: &Marks) -> Vec<MdMark> {
        let mut out = Vec::new();
        if let Some(href) = &marks.link {
            out.push(MdMark::Link(href.clone()));
        }
        for (on, mark) in [
            (marks.bold, MdMark::Bold),
            (marks.italic, MdMark::Italic),
            (marks.strike, MdMark::Strike),
        ] {
            if on {
                out.push(mark);
            }
        }
        out
    }

    fn open(&self) -> &'static str {
        match self {
            MdMark::Link(_) => "[",
            MdMark::Bold => "**",
            MdMark::Italic => "*",
            MdMark::Strike => "~~",
        }
    }

    fn close(&self, out: &mut String) {
        match self {
            MdMark::Link(href) => {
                out.push_str("](");
                out.push_str(&markdown_destination(href));
                out.push(')');
            }
            MdMark::Bold => out.push_str("**"),
            MdMark::Italic => out.push('*'),
            MdMark::Strike => out.push_str("~~"),
        }
    }
}

/// Inline Markdown for a paragraph (hard breaks as `\` + newline) or a heading (hard
/// breaks as spaces: a heading is one line).
fn markdown_inline(inlines: &[Inline], heading: bool) -> String {
    // A hard break at either end of a paragraph cannot be written: a trailing `\` is a
    // literal backslash.
    let start = inlines
        .iter()
        .position(|i| *i != Inline::Break)
        .unwrap_or(inlines.len());
    let end = inlines
        .iter()
        .rposition(|i| *i != Inline::Break)
        .map_or(start, |i| i + 1);
    let mut w = MdInline {
        out: String::new(),
        open: Vec::new(),
        space: String::new(),
        line_start: !heading,
    };
    for inline in &inlines[start..end] {
        match inline {
            Inline::Text(text, marks) => w.text(text, marks),
            Inline::Break if heading => w.space.push(' '),
            Inline::Break => w.hard_break(),
            Inline::Image { src, alt } => w.image(src.as_deref(), alt),
        }
    }
    w.finish()
}

struct MdInline {
    out: String,
    open: Vec<MdMark>,
    /// Whitespace held back at the end of a run: it goes after any closing delimiters,
    /// because `**bold **` is not bold in Markdown.
    space: String,
    /// At the start of a line, before any delimiter: where block syntax would be read.
    line_start: bool,
}

impl MdInline {
    fn text(&mut self, text: &str, marks: &Marks) {
        // A newline in a paragraph's text is a soft break; Markdown would read it as one.
        let text = text.replace(['\n', '\r'], " ");
        if text.trim().is_empty() && !marks.code {
            self.space.push_str(&text);
            return;
        }
        let want = MdMark::of(marks);
        let keep = self
            .open
            .iter()
            .zip(&want)
            .take_while(|(a, b)| a == b)
            .count();
        self.close_to(keep);
        let (lead, core, trail) = if marks.code {
            ("", text.as_str(), "")
        } else {
            let core = text.trim();
            let lead = &text[..text.len() - text.trim_start().len()];
            let trail = &text[text.trim_end().len()..];
            (lead, core, trail)
        };
        let space = std::mem::take(&mut self.space);
        self.push_space(&space);
        self.push_space(lead);
        for mark in &want[keep..] {
            self.out.push_str(mark.open());
            self.line_start = false;
        }
        self.open = want;
        if marks.code {
            self.out.push_str(&code_span(core));
        } else {
            self.out.push_str(&escape_markdown(core, self.line_start));
        }
        self.line_start = false;
        self.space.push_str(trail);
    }

    fn image(&mut self, src: Option<&str>, alt: &str) {
        let space = std::mem::take(&mut self.space);
        self.push_space(&space);
        match src {
            Some(src) => {
                let _ = write!(
                    self.out,
                    "![{}]({})",
                    escape_markdown(alt, false),
                    markdown_destination(src)
                );
            }
            None => self.out.push_str(&escape_markdown(alt, self.line_start)),
        }
        self.line_start = false;
    }

    fn hard_break(&mut self) {
        self.space.clear();
        self.out.push_str("\\\n");
        self.line_start = true;
    }

    fn push_space(&mut self, space: &str) {
        // Leading whitespace on a line is dropped by Markdown, and four spaces would start
        // an indented code block.
        if !self.line_start {
            self.out.push_str(space);
        }
    }

    fn close_to(&mut self, keep: usize) {
        while self.open.len() > keep {
            if let Some(mark) = self.open.pop() {
                mark.close(&mut self.out);
            }
        }
    }

    fn finish(mut self) -> String {
        self.close_to(0);
        self.out
    }
}

/// A code span that holds `text` literally: the fence is longer than any backtick run
/// inside, and a space pads content that starts or ends with a backtick or space.
fn code_span(text: &str) -> String {
    let fence = "`".repeat(longest_run(text, '`') + 1);
    let pad = text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']);
    let pad = if pad && !text.trim().is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A link destination: spaces and controls percent-encoded, the characters that would end
/// or confuse the destination backslash-escaped.
fn markdown_destination(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' | ')' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c == ' ' || c.is_ascii_control() => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes Markdown syntax in text so that it reads back as the same text. `line_start`:
/// the text begins a line, where `-`, `+`, `=`, `>` and `1.` would start a block.
fn escape_markdown(text: &str, line_start: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.char_indices().peekable();
    if line_start {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && matches!(text.as_bytes().get(digits), Some(b'.' | b')')) {
            out.push_str(&text[..digits]);
            out.push('\\');
            while chars.next_if(|&(i, _)| i < digits).is_some() {}
        } else if text.starts_with(['-', '+', '=', '>']) {
            out.push('\\');
        }
    }
    for (i, c) in chars {
        match c {
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            // `&amp;` and `&#32;` would be read as character references.
            '&' if text[i + 1..].starts_with(|n: char| n.is_ascii_alphanumeric() || n == '#') => {
                out.push_str("\\&")
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;
    use yrs::types::Attrs;
    use yrs::{TransactionMut, XmlElementPrelim, XmlTextPrelim, XmlTextRef};

    /// A ProseMirror node as y-prosemirror stores it.
    enum N {
        /// An element: tag, attributes, children.
        E(&'static str, Vec<(&'static str, Any)>, Vec<N>),
        /// One `XmlText` holding a run of text nodes: (text, marks with their attrs).
        T(Vec<(&'static str, Vec<(&'static str, Any)>)>),
    }
    use N::{E, T};

    fn empty() -> Any {
        Any::Map(Arc::new(HashMap::new()))
    }

    fn p(text: &'static str) -> N {
        E("paragraph", vec![], vec![T(vec![(text, vec![])])])
    }

    fn h(level: i64, text: &'static str) -> N {
        E(
            "heading",
            vec![("level", Any::from(level))],
            vec![T(vec![(text, vec![])])],
        )
    }

    fn li(children: Vec<N>) -> N {
        E("listItem", vec![], children)
    }

    fn ul(items: Vec<N>) -> N {
        E("bulletList", vec![], items)
    }

    fn ol(start: i64, items: Vec<N>) -> N {
        E("orderedList", vec![("start", Any::from(start))], items)
    }

    fn quote(children: Vec<N>) -> N {
        E("blockquote", vec![], children)
    }

    fn insert(txn: &mut TransactionMut, parent: &impl XmlFragment, node: &N) {
        match node {
            E(tag, attrs, children) => {
                let el = parent.push_back(txn, XmlElementPrelim::empty(*tag));
                for (k, v) in attrs {
                    el.insert_attribute(txn, *k, v.clone());
                }
                for child in children {
                    insert(txn, &el, child);
                }
            }
            T(runs) => {
                let text: XmlTextRef = parent.push_back(txn, XmlTextPrelim::new(""));
                for (s, marks) in runs {
                    let attrs: Attrs = marks
                        .iter()
                        .map(|(k, v)| (Arc::<str>::from(*k), v.clone()))
                        .collect();
                    let at = text.len(txn);
                    text.insert_with_attributes(txn, at, s, attrs);
                }
            }
        }
    }

    fn doc(nodes: &[N]) -> Doc {
        let doc = Doc::new();
        let fragment = doc.get_or_insert_xml_fragment("default");
        let mut txn = doc.transact_mut();
        for node in nodes {
            insert(&mut txn, &fragment, node);
        }
        drop(txn);
        doc
    }

    fn all(nodes: &[N]) -> (String, String, String) {
        let d = doc(nodes);
        (
            render(&d, Format::Markdown),
            render(&d, Format::Html),
            render(&d, Format::Text),
        )
    }

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
    fn combined_marks_and_whitespace_inside_marks() {
        let (md, html, _) = all(&[E(
            "paragraph",
            vec![],
            vec![T(vec![
                ("a ", vec![]),
                ("fett ", vec![("bold", empty())]),
                ("und kursiv", vec![("bold", empty()), ("italic", empty())]),
                (" nur kursiv", vec![("italic", empty())]),
                (" ende", vec![]),
            ])],
        )]);
        assert_eq!(md, "a **fett *und kursiv*** *nur kursiv* ende\n");
        assert_eq!(
            html,
            "<p>a <strong>fett <em>und kursiv</em></strong><em> nur kursiv</em> ende</p>\n"
        );
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
    fn ordered_list_indents_by_marker_width_and_loose_items() {
        let items: Vec<N> = (0..10).map(|_| li(vec![p("x")])).collect();
        let mut items = items;
        items.push(li(vec![p("a"), p("b")]));
        let (md, _, _) = all(&[ol(1, items)]);
        let mut want: String = (1..=10).map(|n| format!("{n}. x\n")).collect();
        want.push_str("11. a\n\n    b\n");
        assert_eq!(md, want);
    }

    #[test]
    fn adjacent_lists_stay_apart() {
        let (md, _, txt) = all(&[
            ul(vec![li(vec![p("a")])]),
            ul(vec![li(vec![p("b")])]),
            ol(1, vec![li(vec![p("c")])]),
            ol(1, vec![li(vec![p("d")])]),
        ]);
        assert_eq!(md, "- a\n\n* b\n\n1. c\n\n1) d\n");
        assert_eq!(txt, "- a\n\n- b\n\n1. c\n\n1. d\n");
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
    fn list_item_with_quote_and_empty_item() {
        let (md, _, _) = all(&[ul(vec![
            li(vec![p("a"), quote(vec![p("q")])]),
            li(vec![E("paragraph", vec![], vec![])]),
            li(vec![p("c")]),
        ])]);
        assert_eq!(md, "- a\n\n  > q\n-\n- c\n");
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
    fn markdown_special_characters_are_escaped() {
        let (md, html, txt) = all(&[
            p("# kein Titel"),
            p("1. kein Punkt"),
            p("- kein Punkt"),
            p("> kein Zitat"),
            p("a*b*_c_ `d` [e](f) <g> ~~h~~ \\ &amp; & x"),
            h(1, "C#"),
        ]);
        assert_eq!(
            md,
            "\\# kein Titel\n\n1\\. kein Punkt\n\n\\- kein Punkt\n\n\\> kein Zitat\n\n\
             a\\*b\\*\\_c\\_ \\`d\\` \\[e\\](f) \\<g> \\~\\~h\\~\\~ \\\\ \\&amp; & x\n\n# C\\#\n"
        );
        assert_eq!(
            html,
            "<p># kein Titel</p>\n<p>1. kein Punkt</p>\n<p>- kein Punkt</p>\n\
             <p>&gt; kein Zitat</p>\n<p>a*b*_c_ `d` [e](f) &lt;g&gt; ~~h~~ \\ &amp;amp; &amp; x</p>\n\
             <h1>C#</h1>\n"
        );
        assert!(txt.starts_with("# kein Titel\n\n1. kein Punkt\n"));
    }

    #[test]
    fn html_escapes_everything_and_keeps_no_foreign_attributes() {
        let (_, html, _) = all(&[
            E(
                "paragraph",
                vec![("onclick", Any::from("evil()")), ("class", Any::from("x"))],
                vec![T(vec![("<script>alert('x')</script>", vec![])])],
            ),
            E(
                "image",
                vec![
                    ("src", Any::from("https://e.org/a.png\" onerror=\"x")),
                    ("alt", Any::from("Bild")),
                ],
                vec![],
            ),
            E(
                "image",
                vec![
                    ("src", Any::from("data:image/png;base64,AAAA")),
                    ("alt", Any::from("Daten")),
                ],
                vec![],
            ),
        ]);
        assert_eq!(
            html,
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>\n\
             <p><img src=\"https://e.org/a.png&quot; onerror=&quot;x\" alt=\"Bild\">Daten</p>\n"
        );
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
