//! Word: the event stream as a `.docx` file, with a title block at the top, notes (such as
//! the hash) at the end of the text and page numbers in the page footer.
//!
//! Headings, the title, code and links use named styles, and lists real Word numbering
//! definitions, so that the file keeps its structure when it is pasted into a template. Like
//! the other renderers it sees only the walk's events, so the nesting bound and the link
//! check are the walk's. It builds the bytes in memory and must not do I/O or panic: text
//! that XML cannot hold (control characters) is dropped, because Word refuses such a file.

use std::io::Cursor;

use docx_rs::{
    AbstractNumbering, AlignmentType, BorderType, BreakType, Docx, Footer, Hyperlink,
    HyperlinkData, HyperlinkType, IndentLevel, Level, LevelJc, LevelOverride, LevelText,
    LineSpacing, NumberFormat, Numbering, NumberingId, PageNum, Paragraph, ParagraphBorder,
    ParagraphBorderPosition, ParagraphBorders, ParagraphChild, Run, RunFonts, SpecialIndentType,
    Start, Style, StyleType,
};
use yrs::Doc;

use super::{events, Block, Container, Event, Inline, Marks};

/// The text around a document in its Word file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TitleBlock {
    /// Set in the Title style at the top.
    pub title: String,
    /// Lines under the title, e.g. the adopting body and "Beschlossen am 29.09.2026".
    pub lines: Vec<String>,
    /// Lines after the document's text, e.g. its SHA-256 and how to verify it.
    pub footer: Vec<String>,
}

/// Why [`docx`] produced no file.
#[derive(Debug, thiserror::Error)]
pub enum DocxError {
    /// docx-rs could not write the package. Writing to memory does not fail, so this is a
    /// bug in docx-rs or here, not a property of the document.
    #[error("the .docx package could not be written: {0}")]
    Pack(docx_rs::DocxError),
}

/// A4 in twentieths of a point.
const A4_WIDTH: u32 = 11_906;
const A4_HEIGHT: u32 = 16_838;

/// One step of indentation (1 cm) per enclosing quote or list.
const INDENT: i32 = 567;
/// Deeper structure is indented no further, so that text keeps most of the line.
const MAX_INDENT_STEPS: usize = 8;

/// Word numbering has nine levels (0 to 8); deeper lists share the last.
const WORD_LEVELS: usize = 9;
const BULLETS: [&str; 3] = ["•", "◦", "▪"];

/// docx-rs always writes an abstract numbering and a numbering with id 1; ours follow.
const BULLET_LIST: usize = 2;
const ORDERED_LIST: usize = 3;
const FIRST_NUM: usize = 2;

const TITLE: &str = "Title";
const HEADINGS: [&str; 6] = [
    "Heading1", "Heading2", "Heading3", "Heading4", "Heading5", "Heading6",
];
const CODE_BLOCK: &str = "CodeBlock";
const INLINE_CODE: &str = "InlineCode";
const HYPERLINK: &str = "Hyperlink";
const COLOPHON: &str = "Colophon";
const MONOSPACE: &str = "Courier New";
const BODY_FONT: &str = "Calibri";

/// Renders the document's `default` fragment, framed by `title`, as a Word file.
///
/// Takes a read transaction, so the caller must not hold a write transaction on `doc`.
pub fn docx(doc: &Doc, title: &TitleBlock) -> Result<Vec<u8>, DocxError> {
    let mut body = Body::default();
    body.title_block(title);
    for event in &events(doc) {
        body.event(event);
    }
    body.colophon(&title.footer);

    let mut file = Docx::new()
        .page_size(A4_WIDTH, A4_HEIGHT)
        .default_fonts(fonts(BODY_FONT))
        .default_size(22)
        .footer(page_footer())
        .add_abstract_numbering(list_definition(BULLET_LIST, false))
        .add_abstract_numbering(list_definition(ORDERED_LIST, true));
    for style in styles() {
        file = file.add_style(style);
    }
    for numbering in body.numberings {
        file = file.add_numbering(numbering);
    }
    for paragraph in body.paragraphs {
        file = file.add_paragraph(paragraph);
    }
    let mut out = Cursor::new(Vec::new());
    file.pack(&mut out)
        .map_err(|e| DocxError::Pack(docx_rs::DocxError::from(e)))?;
    Ok(out.into_inner())
}

/// A quote, list or item the events are inside. Plain containers add nothing, so they are
/// not kept: the stack holds at most the walk's `MAX_NESTING` frames.
#[derive(Debug)]
enum Frame {
    Quote,
    List {
        num: usize,
        level: usize,
    },
    Item {
        /// The numbering and level of the item's list.
        num: Option<(usize, usize)>,
        /// Whether the item's first paragraph, the one with the number, is written.
        started: bool,
    },
}

#[derive(Default)]
struct Body {
    paragraphs: Vec<Paragraph>,
    /// One numbering instance per list, so that each ordered list counts from its own start.
    numberings: Vec<Numbering>,
    frames: Vec<Frame>,
    quotes: usize,
    lists: usize,
    links: usize,
}

impl Body {
    fn title_block(&mut self, title: &TitleBlock) {
        if !title.title.trim().is_empty() {
            let run = text_run(Run::new(), &one_line(&title.title));
            self.paragraphs
                .push(Paragraph::new().style(TITLE).add_run(run));
        }
        for line in &title.lines {
            let run = text_run(Run::new(), &one_line(line));
            self.paragraphs.push(Paragraph::new().add_run(run));
        }
    }

    /// The footer lines at the end of the text, under a rule.
    fn colophon(&mut self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        self.paragraphs.push(rule());
        for line in lines {
            let run = text_run(Run::new(), &one_line(line));
            self.paragraphs
                .push(Paragraph::new().style(COLOPHON).add_run(run));
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Enter(Container::Plain) | Event::Exit(Container::Plain) => {}
            Event::Enter(Container::Quote) => {
                self.start_item();
                self.frames.push(Frame::Quote);
                self.quotes += 1;
            }
            Event::Enter(Container::Bullet) => self.enter_list(None),
            Event::Enter(Container::Ordered { start }) => self.enter_list(Some(*start)),
            Event::Enter(Container::Item) => {
                let num = match self.frames.last() {
                    Some(Frame::List { num, level }) => Some((*num, *level)),
                    _ => None,
                };
                self.frames.push(Frame::Item {
                    num,
                    started: false,
                });
            }
            Event::Exit(container) => {
                if *container == Container::Item {
                    // An empty item still shows its bullet or number.
                    self.start_item();
                }
                match self.frames.pop() {
                    Some(Frame::Quote) => self.quotes = self.quotes.saturating_sub(1),
                    Some(Frame::List { .. }) => self.lists = self.lists.saturating_sub(1),
                    Some(Frame::Item { .. }) | None => {}
                }
            }
            Event::Block(block) => {
                let paragraph = self.block(block);
                self.place(paragraph);
            }
        }
    }

    fn enter_list(&mut self, start: Option<u64>) {
        self.start_item();
        let level = self.lists.min(WORD_LEVELS - 1);
        let num = FIRST_NUM + self.numberings.len();
        let numbering = match start {
            None => Numbering::new(num, BULLET_LIST),
            // Word continues a list across numbering instances of one definition unless
            // the instance overrides its start.
            Some(start) => Numbering::new(num, ORDERED_LIST)
                .add_override(LevelOverride::new(level).start(usize::try_from(start).unwrap_or(1))),
        };
        self.numberings.push(numbering);
        self.frames.push(Frame::List { num, level });
        self.lists += 1;
    }

    /// Writes an empty numbered paragraph for an item that has none yet, so that an item
    /// holding only a list or quote, or nothing, keeps its bullet or number.
    fn start_item(&mut self) {
        if let Some(Frame::Item { started: false, .. }) = self.frames.last() {
            self.place(Paragraph::new());
        }
    }

    /// Adds a paragraph, indented for the quotes and lists around it; the first paragraph
    /// of an item carries the item's number.
    fn place(&mut self, paragraph: Paragraph) {
        let steps = (self.quotes + self.lists).min(MAX_INDENT_STEPS);
        let left = INDENT * steps as i32;
        let paragraph = match self.frames.last_mut() {
            Some(Frame::Item { num, started }) if !*started => {
                *started = true;
                match num {
                    Some((num, level)) => paragraph
                        .numbering(NumberingId::new(*num), IndentLevel::new(*level))
                        .indent(
                            Some(left),
                            Some(SpecialIndentType::Hanging(INDENT)),
                            None,
                            None,
                        ),
                    None => paragraph.indent(Some(left), None, None, None),
                }
            }
            _ if steps > 0 => paragraph.indent(Some(left), None, None, None),
            _ => paragraph,
        };
        self.paragraphs.push(paragraph);
    }

    fn block(&mut self, block: &Block) -> Paragraph {
        match block {
            Block::Paragraph(inlines) => self.inlines(Paragraph::new(), inlines),
            Block::Heading(level, inlines) => {
                let style = HEADINGS[(*level).clamp(1, 6) - 1];
                self.inlines(Paragraph::new().style(style), inlines)
            }
            Block::Code { text, .. } => {
                let paragraph = Paragraph::new().style(CODE_BLOCK);
                if text.is_empty() {
                    paragraph
                } else {
                    paragraph.add_run(text_run(Run::new(), text))
                }
            }
            Block::Rule => rule(),
        }
    }

    /// Adds a textblock's runs. Neighbouring runs with the same link share one hyperlink.
    fn inlines(&mut self, mut paragraph: Paragraph, inlines: &[Inline]) -> Paragraph {
        let mut open_link: Option<&str> = None;
        for inline in inlines {
            match inline {
                Inline::Text(text, marks) => {
                    // A newline in a textblock's text is a soft break, as in Markdown.
                    let run = styled(text_run(Run::new(), &one_line(text)), marks);
                    let href = marks.link.as_deref().filter(|href| is_xml_text(href));
                    let Some(href) = href else {
                        open_link = None;
                        paragraph = paragraph.add_run(run);
                        continue;
                    };
                    if open_link != Some(href) {
                        paragraph = paragraph.add_hyperlink(self.hyperlink(href));
                        open_link = Some(href);
                    }
                    if let Some(ParagraphChild::Hyperlink(link)) = paragraph.children.last_mut() {
                        link.children.push(ParagraphChild::Run(Box::new(run)));
                    }
                }
                Inline::Break => {
                    open_link = None;
                    paragraph = paragraph.add_run(Run::new().add_break(BreakType::TextWrapping));
                }
                // Images are not embedded (their source is a URL we do not fetch).
                Inline::Image { alt, .. } => {
                    open_link = None;
                    paragraph = paragraph.add_run(text_run(Run::new(), &one_line(alt)));
                }
            }
        }
        paragraph
    }

    fn hyperlink(&mut self, href: &str) -> Hyperlink {
        self.links += 1;
        let mut link = Hyperlink::new(href, HyperlinkType::External);
        // docx-rs numbers relationships from a process-wide counter that concurrent
        // renders can interleave on; ids of our own keep the ones in one file distinct.
        if let HyperlinkData::External { rid, .. } = &mut link.link {
            *rid = format!("rIdHyperlink{}", self.links);
        }
        link
    }
}

/// `run` with `text` added: tabs as tabs, newlines as line breaks, characters XML cannot
/// hold dropped.
fn text_run(mut run: Run, text: &str) -> Run {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            run = run.add_break(BreakType::TextWrapping);
        }
        for (j, piece) in line.split('\t').enumerate() {
            if j > 0 {
                run = run.add_tab();
            }
            let piece: String = piece.chars().filter(|&c| is_xml_char(c)).collect();
            if !piece.is_empty() {
                run = run.add_text(piece);
            }
        }
    }
    run
}

/// Text for a single line: newlines become spaces.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn styled(mut run: Run, marks: &Marks) -> Run {
    if marks.bold {
        run = run.bold();
    }
    if marks.italic {
        run = run.italic();
    }
    if marks.strike {
        run = run.strike();
    }
    // A run has one character style: code wins over the link's, the link keeps its line.
    if marks.code {
        run = run.style(INLINE_CODE);
        if marks.link.is_some() {
            run = run.underline("single");
        }
    } else if marks.link.is_some() {
        run = run.style(HYPERLINK);
    }
    if marks.underline {
        run = run.underline("single");
    }
    run
}

/// A horizontal rule: an empty paragraph with a bottom border.
fn rule() -> Paragraph {
    let mut paragraph = Paragraph::new();
    let border = ParagraphBorder::new(ParagraphBorderPosition::Bottom)
        .val(BorderType::Single)
        .size(6)
        .space(1);
    paragraph.property = paragraph
        .property
        .set_borders(ParagraphBorders::with_empty().set(border));
    paragraph
}

/// Whether XML 1.0 can hold `c` (tab, newline and carriage return are handled apart).
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

fn is_xml_text(text: &str) -> bool {
    text.chars().all(is_xml_char)
}

fn fonts(name: &str) -> RunFonts {
    RunFonts::new()
        .ascii(name)
        .hi_ansi(name)
        .east_asia(name)
        .cs(name)
}

/// "Seite N", centred, on every page.
fn page_footer() -> Footer {
    Footer::new().add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .add_run(Run::new().add_text("Seite "))
            .add_page_num(PageNum::new()),
    )
}

/// A list definition with all nine Word levels: bullets, or decimal numbers like the
/// Markdown renderer's (`1.` at every level).
fn list_definition(id: usize, ordered: bool) -> AbstractNumbering {
    let mut definition = AbstractNumbering::new(id);
    for level in 0..WORD_LEVELS {
        let (format, text) = if ordered {
            ("decimal", format!("%{}.", level + 1))
        } else {
            ("bullet", BULLETS[level % BULLETS.len()].to_owned())
        };
        let left = INDENT * (level as i32 + 1);
        definition = definition.add_level(
            Level::new(
                level,
                Start::new(1),
                NumberFormat::new(format),
                LevelText::new(text),
                LevelJc::new("left"),
            )
            .indent(
                Some(left),
                Some(SpecialIndentType::Hanging(INDENT)),
                None,
                None,
            ),
        );
    }
    definition
}

/// The styles the body uses. Headings, Title and Hyperlink carry Word's built-in names, so
/// Word shows them as its own ("Heading 1", or "Überschrift 1" in German) and a template's
/// definitions replace ours when the text is pasted into it.
fn styles() -> Vec<Style> {
    const HEADING_SIZES: [usize; 6] = [32, 28, 26, 24, 22, 22];
    let mut styles = vec![Style::new(TITLE, StyleType::Paragraph)
        .name("Title")
        .based_on("Normal")
        .next("Normal")
        .size(56)
        .line_spacing(LineSpacing::new().after(240))];
    for (i, (id, size)) in HEADINGS.iter().zip(HEADING_SIZES).enumerate() {
        let mut style = Style::new(*id, StyleType::Paragraph)
            .name(format!("heading {}", i + 1))
            .based_on("Normal")
            .next("Normal")
            .ui_priority(9)
            .bold()
            .size(size)
            .outline_lvl(i)
            .line_spacing(LineSpacing::new().before(240).after(120));
        style.paragraph_property = style.paragraph_property.keep_next(true);
        styles.push(style);
    }
    styles.push(
        Style::new(CODE_BLOCK, StyleType::Paragraph)
            .name("Code Block")
            .based_on("Normal")
            .fonts(fonts(MONOSPACE))
            .size(20),
    );
    styles.push(
        Style::new(INLINE_CODE, StyleType::Character)
            .name("Inline Code")
            .fonts(fonts(MONOSPACE)),
    );
    styles.push(
        Style::new(HYPERLINK, StyleType::Character)
            .name("Hyperlink")
            .color("0563C1")
            .underline("single"),
    );
    styles.push(
        Style::new(COLOPHON, StyleType::Paragraph)
            .name("Colophon")
            .based_on("Normal")
            .size(18),
    );
    styles
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::{Cursor, Read};
    use std::sync::Arc;

    use yrs::{Any, Doc, ReadTxn, Transact, XmlElementPrelim, XmlFragment, XmlTextPrelim};

    use super::*;
    use crate::render::fixture::*;
    use crate::render::MAX_NESTING;

    /// One part of the package, as text.
    fn part(bytes: &[u8], name: &str) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
        let mut file = archive.by_name(name).expect(name);
        let mut text = String::new();
        file.read_to_string(&mut text).expect("UTF-8");
        text
    }

    fn document(bytes: &[u8]) -> String {
        part(bytes, "word/document.xml")
    }

    /// The `w:val` of the first `<tag ...>` in `xml`.
    fn val<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
        let open = format!("<{tag} ");
        let rest = &xml[xml.find(&open)? + open.len()..];
        let tag = &rest[..rest.find('>')?];
        let value = &tag[tag.find("w:val=\"")? + 7..];
        Some(&value[..value.find('"')?])
    }

    /// Whether `xml` holds a `<tag>` element (not one whose name merely starts with it).
    fn has(xml: &str, tag: &str) -> bool {
        ["/>", " ", ">"]
            .iter()
            .any(|end| xml.contains(&format!("<{tag}{end}")))
    }

    /// The text of `<w:t>` elements in `xml`, with the XML escapes undone.
    fn text(xml: &str) -> String {
        let mut out = String::new();
        let mut rest = xml;
        while let Some(at) = rest.find("<w:t") {
            rest = &rest[at + 4..];
            if !rest.starts_with([' ', '>']) {
                continue; // <w:tab/>, <w:tbl>, ...
            }
            let Some(start) = rest.find('>') else { break };
            let Some(end) = rest.find("</w:t>") else {
                break;
            };
            out.push_str(&rest[start + 1..end]);
            rest = &rest[end..];
        }
        out.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    /// A paragraph of the body: its XML from after `<w:p ` to before `</w:p>`.
    #[derive(Debug)]
    struct Para<'a>(&'a str);

    impl Para<'_> {
        fn text(&self) -> String {
            text(self.0)
        }

        fn style(&self) -> Option<&str> {
            val(self.0, "w:pStyle")
        }

        /// (numId, ilvl) of the paragraph's list number.
        fn number(&self) -> Option<(usize, usize)> {
            let id = val(self.0, "w:numId")?.parse().ok()?;
            let level = val(self.0, "w:ilvl")?.parse().ok()?;
            Some((id, level))
        }

        /// The left indentation in twips.
        fn left(&self) -> i32 {
            let Some(at) = self.0.find("<w:ind ") else {
                return 0;
            };
            let rest = &self.0[at..];
            let rest = &rest[rest.find("w:left=\"").map_or(0, |i| i + 8)..];
            rest[..rest.find('"').unwrap_or(0)].parse().unwrap_or(0)
        }

        /// The runs (`<w:r>...</w:r>`) whose text is `wanted`.
        fn run(&self, wanted: &str) -> &str {
            self.0
                .split("<w:r>")
                .skip(1)
                .map(|r| r.split("</w:r>").next().unwrap_or(r))
                .find(|r| text(r) == wanted)
                .unwrap_or_else(|| panic!("no run {wanted:?} in {}", self.0))
        }
    }

    /// The paragraphs of the body, in order. None nests in another in what we write.
    fn paragraphs(document: &str) -> Vec<Para<'_>> {
        let body = document.split("<w:sectPr").next().unwrap_or(document);
        body.split("<w:p ")
            .skip(1)
            .map(|p| Para(p.split("</w:p>").next().unwrap_or(p)))
            .collect()
    }

    fn find<'a>(paragraphs: &'a [Para<'a>], text: &str) -> &'a Para<'a> {
        paragraphs
            .iter()
            .find(|p| p.text() == text)
            .unwrap_or_else(|| panic!("no paragraph {text:?} in {paragraphs:?}"))
    }

    fn untitled(nodes: &[N]) -> Vec<u8> {
        docx(&doc(nodes), &TitleBlock::default()).expect("a .docx")
    }

    fn link(href: &str) -> Any {
        Any::Map(Arc::new(HashMap::from([(
            "href".to_owned(),
            Any::from(href),
        )])))
    }

    #[test]
    fn headings_use_word_heading_styles() {
        let bytes = untitled(&[h(1, "Eins"), h(3, "Drei"), h(6, "Sechs"), p("Text")]);
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        let got: Vec<_> = paras.iter().map(|p| (p.style(), p.text())).collect();
        assert_eq!(
            got,
            [
                (Some("Heading1"), "Eins".to_owned()),
                (Some("Heading3"), "Drei".to_owned()),
                (Some("Heading6"), "Sechs".to_owned()),
                (None, "Text".to_owned()),
            ]
        );
        // Word knows the styles by their built-in names, and they are outline levels.
        let styles = part(&bytes, "word/styles.xml");
        for level in 1..=6 {
            let id = format!("w:styleId=\"Heading{level}\"");
            let at = styles.find(&id).expect("heading style defined");
            let style = &styles[at..at + styles[at..].find("</w:style>").unwrap_or(0)];
            assert_eq!(
                val(style, "w:name"),
                Some(format!("heading {level}").as_str())
            );
            assert_eq!(
                val(style, "w:outlineLvl"),
                Some((level - 1).to_string().as_str())
            );
        }
    }

    #[test]
    fn lists_reference_numbering_definitions_with_levels() {
        let bytes = untitled(&[
            ul(vec![
                li(vec![
                    p("eins"),
                    ol(
                        3,
                        vec![li(vec![p("drei")]), li(vec![p("vier"), p("weiter")])],
                    ),
                ]),
                li(vec![p("zwei")]),
            ]),
            ol(1, vec![li(vec![p("neu")])]),
        ]);
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        let (bullets, _) = find(&paras, "eins").number().expect("numbered");
        let (inner, _) = find(&paras, "drei").number().expect("numbered");
        let (second, _) = find(&paras, "neu").number().expect("numbered");
        assert_eq!(find(&paras, "eins").number(), Some((bullets, 0)));
        assert_eq!(find(&paras, "zwei").number(), Some((bullets, 0)));
        assert_eq!(find(&paras, "drei").number(), Some((inner, 1)));
        assert_eq!(find(&paras, "vier").number(), Some((inner, 1)));
        assert_eq!(find(&paras, "neu").number(), Some((second, 0)));
        assert!(bullets != inner && inner != second);
        // A second paragraph in an item is indented like the item's text, not numbered.
        let weiter = find(&paras, "weiter");
        assert_eq!(weiter.number(), None);
        assert_eq!(weiter.left(), find(&paras, "vier").left());
        assert!(find(&paras, "drei").left() > find(&paras, "eins").left());

        // Each list is an instance of the bullet or the decimal definition; ordered lists
        // restart at their own start.
        let numbering = part(&bytes, "word/numbering.xml");
        let num = |id: usize| {
            let open = format!("<w:num w:numId=\"{id}\">");
            let at = numbering.find(&open).expect("numbering instance");
            let end = numbering[at..].find("</w:num>").expect("closed");
            numbering[at..at + end].to_owned()
        };
        let definition = |id: &str| {
            let open = format!("<w:abstractNum w:abstractNumId=\"{id}\">");
            let at = numbering.find(&open).expect("definition");
            let end = numbering[at..].find("</w:abstractNum>").expect("closed");
            numbering[at..at + end].to_owned()
        };
        let bullet_def = definition(val(&num(bullets), "w:abstractNumId").unwrap_or(""));
        assert_eq!(val(&bullet_def, "w:numFmt"), Some("bullet"));
        let inner_num = num(inner);
        let decimal_def = definition(val(&inner_num, "w:abstractNumId").unwrap_or(""));
        assert_eq!(val(&decimal_def, "w:numFmt"), Some("decimal"));
        assert!(inner_num.contains("<w:lvlOverride w:ilvl=\"1\">"));
        assert_eq!(val(&inner_num, "w:startOverride"), Some("3"));
        assert_eq!(val(&num(second), "w:startOverride"), Some("1"));
    }

    #[test]
    fn marks_become_run_properties_and_safe_links_hyperlinks() {
        let bytes = untitled(&[E(
            "paragraph",
            vec![],
            vec![T(vec![
                ("fett", vec![("bold", empty())]),
                (" ", vec![]),
                ("kursiv", vec![("italic", empty())]),
                (" ", vec![]),
                ("beides", vec![("bold", empty()), ("italic", empty())]),
                (" ", vec![]),
                ("unter", vec![("underline", empty())]),
                (" ", vec![]),
                ("durch", vec![("strike", empty())]),
                (" ", vec![]),
                ("code", vec![("code", empty())]),
                (" ", vec![]),
                ("Link", vec![("link", link("https://example.org/?a=1&b=2"))]),
                (
                    " fett",
                    vec![
                        ("link", link("https://example.org/?a=1&b=2")),
                        ("bold", empty()),
                    ],
                ),
                (" ", vec![]),
                ("böse", vec![("link", link("javascript:alert(1)"))]),
            ])],
        )]);
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        assert_eq!(paras.len(), 1);
        let para = &paras[0];
        assert_eq!(
            para.text(),
            "fett kursiv beides unter durch code Link fett böse"
        );
        let fett = para.run("fett");
        assert!(has(fett, "w:b") && !has(fett, "w:i"), "{fett}");
        let kursiv = para.run("kursiv");
        assert!(has(kursiv, "w:i") && !has(kursiv, "w:b"), "{kursiv}");
        let beides = para.run("beides");
        assert!(has(beides, "w:b") && has(beides, "w:i"), "{beides}");
        assert_eq!(val(para.run("unter"), "w:u"), Some("single"));
        assert!(has(para.run("durch"), "w:strike"));
        assert_eq!(val(para.run("code"), "w:rStyle"), Some(INLINE_CODE));
        assert!(!has(para.run(" "), "w:b"));

        // Both runs of the link share one hyperlink; the unsafe one is plain text.
        assert_eq!(para.0.matches("<w:hyperlink ").count(), 1);
        let at = para.0.find("<w:hyperlink ").unwrap_or(0);
        let hyperlink = &para.0[at..at + para.0[at..].find("</w:hyperlink>").unwrap_or(0)];
        assert_eq!(text(hyperlink), "Link fett");
        assert_eq!(val(para.run("Link"), "w:rStyle"), Some(HYPERLINK));
        let rid = hyperlink
            .split("r:id=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a relationship id");
        let rels = part(&bytes, "word/_rels/document.xml.rels");
        let rel = rels
            .split("<Relationship ")
            .find(|r| r.contains(&format!("Id=\"{rid}\"")))
            .expect("the link's relationship");
        assert!(
            rel.contains("Target=\"https://example.org/?a=1&amp;b=2\""),
            "{rel}"
        );
        assert!(rel.contains("TargetMode=\"External\""), "{rel}");
        assert!(!rels.contains("javascript"));
    }

    #[test]
    fn quotes_code_rules_breaks_and_images() {
        let bytes = untitled(&[
            quote(vec![p("Zitat"), quote(vec![p("innen")])]),
            E(
                "codeBlock",
                vec![("language", Any::from("rust"))],
                vec![T(vec![("let a = 1;\n\tlet b = \"<x>\";", vec![])])],
            ),
            E("horizontalRule", vec![], vec![]),
            E(
                "paragraph",
                vec![],
                vec![
                    T(vec![("eins", vec![])]),
                    E("hardBreak", vec![], vec![]),
                    T(vec![("zwei\u{1}\u{b}", vec![])]),
                    E(
                        "image",
                        vec![
                            ("src", Any::from("https://e.org/a.png")),
                            ("alt", Any::from(" Bild")),
                        ],
                        vec![],
                    ),
                ],
            ),
        ]);
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        assert_eq!(find(&paras, "Zitat").left(), INDENT);
        assert_eq!(find(&paras, "innen").left(), 2 * INDENT);

        let code = find(&paras, "let a = 1;let b = \"<x>\";");
        assert_eq!(code.style(), Some(CODE_BLOCK));
        assert!(has(code.0, "w:br") && has(code.0, "w:tab"), "{}", code.0);

        let rule = paras.iter().find(|p| p.0.contains("<w:pBdr>"));
        assert!(rule.is_some_and(|r| has(r.0, "w:bottom") && r.text().is_empty()));

        // Control characters XML cannot hold are dropped; the image is its alt text.
        let para = find(&paras, "einszwei Bild");
        assert!(has(para.0, "w:br"));
        assert!(!xml.contains('\u{1}') && !xml.contains('\u{b}'));
        assert!(!xml.contains("a.png"));
    }

    #[test]
    fn title_block_at_the_top_footer_lines_at_the_end_on_a4() {
        let title = TitleBlock {
            title: "Leitbild Schule & Beruf".to_owned(),
            lines: vec![
                "Schulkonferenz".to_owned(),
                "Beschlossen am 29.09.2026".to_owned(),
            ],
            footer: vec![
                "SHA-256: 0123abcd".to_owned(),
                "Prüfen: sha256sum leitbild.md".to_owned(),
            ],
        };
        let bytes = docx(&doc(&[h(1, "Ziele"), p("Text")]), &title).expect("a .docx");
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        let got: Vec<_> = paras.iter().map(|p| (p.style(), p.text())).collect();
        assert_eq!(
            got,
            [
                (Some(TITLE), "Leitbild Schule & Beruf".to_owned()),
                (None, "Schulkonferenz".to_owned()),
                (None, "Beschlossen am 29.09.2026".to_owned()),
                (Some("Heading1"), "Ziele".to_owned()),
                (None, "Text".to_owned()),
                (None, String::new()), // the rule above the footer lines
                (Some(COLOPHON), "SHA-256: 0123abcd".to_owned()),
                (Some(COLOPHON), "Prüfen: sha256sum leitbild.md".to_owned()),
            ]
        );
        assert!(xml.contains("<w:pgSz w:w=\"11906\" w:h=\"16838\""), "A4");

        // Page numbers: a PAGE field in the footer every page uses.
        assert!(xml.contains("<w:footerReference w:type=\"default\""));
        let footer = part(&bytes, "word/footer1.xml");
        assert!(footer.contains("Seite "));
        assert!(footer.contains("<w:instrText>PAGE</w:instrText>"));
    }

    #[test]
    fn empty_document() {
        for d in [Doc::new(), doc(&[])] {
            let bytes = docx(&d, &TitleBlock::default()).expect("a .docx");
            let xml = document(&bytes);
            assert!(paragraphs(&xml).is_empty(), "{xml}");
            assert!(xml.contains("<w:body>") && xml.contains("<w:pgSz w:w=\"11906\""));
        }
        // A fragment that did not exist is not created by rendering.
        let d = Doc::new();
        docx(&d, &TitleBlock::default()).expect("a .docx");
        assert!(d.transact().get_xml_fragment("default").is_none());
    }

    #[test]
    fn empty_items_keep_their_numbers() {
        let bytes = untitled(&[ul(vec![
            li(vec![]),
            li(vec![ul(vec![li(vec![p("innen")])])]),
        ])]);
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        let got: Vec<_> = paras
            .iter()
            .map(|p| (p.text(), p.number().map(|n| n.1)))
            .collect();
        assert_eq!(
            got,
            [
                (String::new(), Some(0)),
                (String::new(), Some(0)),
                ("innen".to_owned(), Some(1)),
            ]
        );
    }

    /// Quotes and lists nested far deeper than `MAX_NESTING`, built with yrs directly: the
    /// file is written, every text is in it, and indentation and list levels stay bounded.
    #[test]
    fn deeper_than_max_nesting_still_renders() {
        let depth = 10 * MAX_NESTING;
        let doc = Doc::new();
        let fragment = doc.get_or_insert_xml_fragment("default");
        {
            let mut txn = doc.transact_mut();
            let mut quote = fragment.push_back(&mut txn, XmlElementPrelim::empty("blockquote"));
            for _ in 1..depth {
                quote = quote.push_back(&mut txn, XmlElementPrelim::empty("blockquote"));
            }
            let para = quote.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            para.push_back(&mut txn, XmlTextPrelim::new("tief"));
            let mut list = fragment.push_back(&mut txn, XmlElementPrelim::empty("orderedList"));
            for _ in 0..depth {
                let item = list.push_back(&mut txn, XmlElementPrelim::empty("listItem"));
                let para = item.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                para.push_back(&mut txn, XmlTextPrelim::new("x"));
                list = item.push_back(&mut txn, XmlElementPrelim::empty("orderedList"));
            }
        }
        let bytes = docx(&doc, &TitleBlock::default()).expect("a .docx");
        let xml = document(&bytes);
        let paras = paragraphs(&xml);
        assert_eq!(
            find(&paras, "tief").left(),
            INDENT * MAX_INDENT_STEPS as i32
        );
        let items: Vec<_> = paras.iter().filter(|p| p.text() == "x").collect();
        assert_eq!(items.len(), depth);
        assert!(items
            .iter()
            .all(|p| p.left() <= INDENT * MAX_INDENT_STEPS as i32));
        assert!(items
            .iter()
            .filter_map(|p| p.number())
            .all(|(_, level)| level < WORD_LEVELS));
        assert_eq!(items[0].number().map(|n| n.1), Some(0));
        assert_eq!(
            items[WORD_LEVELS + 2].number().map(|n| n.1),
            Some(WORD_LEVELS - 1)
        );
    }
}
