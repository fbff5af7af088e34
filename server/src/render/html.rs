//! HTML: the event stream as one tag per line for blocks, with all text and attribute
//! values escaped. It keeps no attribute of the source but a safe `href`, `src`, `alt`,
//! `start` and a checked code language; it must not emit markup taken from the document.

use std::fmt::Write as _;

use super::{Block, Container, Event, Inline, Marks};

pub(super) fn html(events: &[Event]) -> String {
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

#[cfg(test)]
mod tests {
    use yrs::Any;

    use crate::render::fixture::*;

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
}
