//! Text rendering: the Tiptap `XmlFragment` named `default` as Markdown, HTML or plain text.

use yrs::Doc;

/// An output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Text,
}

/// Renders the document's `default` fragment.
pub fn render(doc: &Doc, format: Format) -> String {
    let _ = (doc, format);
    todo!("render helper")
}
