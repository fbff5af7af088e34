//! Markdown and plain text: the event stream as lines, each with a prefix from the
//! enclosing quotes and list items. Both formats share this layout machinery (`Lines`);
//! Markdown adds marks, escaping, heading hashes and code fences. Escaping must make every
//! text read back as itself, never as Markdown syntax.

use std::fmt::Write as _;

use super::{plain, Block, Container, Event, Inline, Marks};

/// Plain text has the same layout as Markdown (`> ` before quoted lines, `- ` and `1. `
/// list markers) but no marks, no escaping, no heading hashes and no code fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
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

pub(super) struct Lines {
    style: Style,
    out: String,
    stack: Vec<LineFrame>,
    /// Indexes into `stack` of the frames that add a prefix (quotes and items), so that
    /// prefixing a line does not walk flattened frames.
    prefixed: Vec<usize>,
    pending: Sep,
}

impl Lines {
    pub(super) fn new(style: Style) -> Self {
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

    pub(super) fn run(mut self, events: &[Event]) -> String {
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
    use crate::render::fixture::*;

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
    fn list_item_with_quote_and_empty_item() {
        let (md, _, _) = all(&[ul(vec![
            li(vec![p("a"), quote(vec![p("q")])]),
            li(vec![E("paragraph", vec![], vec![])]),
            li(vec![p("c")]),
        ])]);
        assert_eq!(md, "- a\n\n  > q\n-\n- c\n");
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
}
