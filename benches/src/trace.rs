//! An editing trace (gzip'd JSON, josephg/editing-traces format) and its pre-encoding into
//! one yrs v1 update per transaction, done before any socket is opened so that encoding
//! never competes with the measurement: into a plain `Y.Text` (what `ingest` measures), or
//! as [`Prose`], the Tiptap document the editor and the history API read.

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use yrs::{
    ClientID, Doc, GetString, OffsetKind, Options, ReadTxn, Text, Transact, TransactionMut,
    XmlElementPrelim, XmlFragment, XmlFragmentRef, XmlOut, XmlTextPrelim, XmlTextRef,
};

/// The root type every benchmark document uses.
pub const TEXT: &str = "text";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    pub start_content: String,
    pub end_content: String,
    pub txns: Vec<Txn>,
}

#[derive(Deserialize)]
pub struct Txn {
    /// `[pos, del, ins]`, pos and del counted in Unicode code points.
    pub patches: Vec<(u32, u32, String)>,
}

/// The trace as the writer sends it.
pub struct EncodedTrace {
    /// One v1 update per transaction, as emitted by `observe_update_v1`.
    pub updates: Vec<Vec<u8>>,
    /// The writer's clock (its entry in the state vector) after each transaction. A delete
    /// leaves it unchanged, so only clock-advancing updates have a measurable latency.
    pub clock_after: Vec<u32>,
    pub end_content: String,
}

impl Trace {
    pub fn load(path: &Path) -> Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        let trace: Trace = serde_json::from_reader(reader)
            .with_context(|| format!("parsing {} as a gzip'd JSON trace", path.display()))?;
        ensure!(
            !trace.txns.is_empty(),
            "trace {} has no transactions",
            path.display()
        );
        // yrs counts text offsets in UTF-8 bytes or UTF-16 units, the trace in code points;
        // the two agree (with UTF-16) as long as every character is in the BMP.
        let beyond_bmp = |s: &str| s.chars().any(|c| c as u32 > 0xFFFF);
        ensure!(
            !beyond_bmp(&trace.start_content)
                && !beyond_bmp(&trace.end_content)
                && !trace
                    .txns
                    .iter()
                    .flat_map(|t| &t.patches)
                    .any(|p| beyond_bmp(&p.2)),
            "trace {} has characters outside the BMP; code-point offsets are not supported",
            path.display()
        );
        Ok(trace)
    }

    /// Replay the trace on one doc owned by `client`, one transaction per txn, and collect
    /// the update each transaction emits. The start content, if any, goes into a first
    /// update of its own.
    pub fn encode(self, client: ClientID) -> Result<EncodedTrace> {
        let doc = Doc::with_options(Options {
            client_id: client,
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let text = doc.get_or_insert_text(TEXT);
        let collected: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let sink = collected.clone();
        doc.observe_update_v1("bench", move |_, event| {
            sink.lock().unwrap().push(event.update.clone())
        })
        .map_err(|e| anyhow::anyhow!("observing updates: {e:?}"))?;

        let mut clock_after = Vec::with_capacity(self.txns.len() + 1);
        let mut replay = |patches: &[(u32, u32, String)]| -> Result<()> {
            let expected = collected.lock().unwrap().len() + 1;
            {
                let mut txn = doc.transact_mut();
                for (pos, del, ins) in patches {
                    if *del > 0 {
                        text.remove_range(&mut txn, *pos, *del);
                    }
                    if !ins.is_empty() {
                        text.insert(&mut txn, *pos, ins);
                    }
                }
            }
            if collected.lock().unwrap().len() != expected {
                bail!("a trace transaction produced no update (empty patch?)");
            }
            clock_after.push(doc.transact().state_vector().get(&client));
            Ok(())
        };
        if !self.start_content.is_empty() {
            replay(&[(0, 0, self.start_content.clone())])?;
        }
        for txn in &self.txns {
            replay(&txn.patches)?;
        }

        let text_now = text.get_string(&doc.transact());
        ensure!(
            text_now == self.end_content,
            "replaying the trace locally does not give its endContent ({} vs {} chars)",
            text_now.chars().count(),
            self.end_content.chars().count()
        );
        let updates = std::mem::take(&mut *collected.lock().unwrap());
        Ok(EncodedTrace {
            updates,
            clock_after,
            end_content: self.end_content,
        })
    }
}

/// The Tiptap (y-prosemirror) root the editor, the renderer and the history API read.
pub const FRAGMENT: &str = "default";

/// How [`Prose`] lays the trace's text out in the Tiptap document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One `paragraph` per line of the text, as an editor would hold it: typing a newline
    /// splits a paragraph, deleting one joins two.
    Paragraphs,
    /// One `paragraph` holding the whole text, newlines included: a single huge block,
    /// the worst case for block-aligned diffs.
    Single,
}

/// The trace's text written the way the editor stores it: the XmlFragment `default`
/// holding `paragraph` elements with one XmlText each. Each [`Prose::apply`] is one
/// transaction and yields its v1 update.
///
/// Beside the yrs document it keeps the text as plain lines, edited with `String`
/// operations only: that model says where a code-point offset of the trace lands, and it
/// is the reference the server's history is checked against.
pub struct Prose {
    doc: Doc,
    fragment: XmlFragmentRef,
    layout: Layout,
    client: ClientID,
    /// The text split at '\n' (never empty: an empty text is one empty line).
    lines: Vec<String>,
    /// Code points per line.
    lens: Vec<u32>,
    /// The XmlText of each paragraph: one per line, or a single one.
    texts: Vec<XmlTextRef>,
    emitted: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Prose {
    /// An empty document under `client`, and the first update: the first paragraph (Tiptap
    /// never shows a document without one), holding `start` if the trace has a start text.
    pub fn new(client: ClientID, layout: Layout, start: &str) -> Result<(Prose, Vec<u8>)> {
        let doc = Doc::with_options(Options {
            client_id: client,
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let fragment = doc.get_or_insert_xml_fragment(FRAGMENT);
        let emitted: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let sink = emitted.clone();
        doc.observe_update_v1("bench", move |_, event| {
            sink.lock().unwrap().push(event.update.clone())
        })
        .map_err(|e| anyhow::anyhow!("observing updates: {e:?}"))?;
        let text = {
            let mut txn = doc.transact_mut();
            paragraph(&mut txn, &fragment, 0, "")
        };
        let mut prose = Prose {
            doc,
            fragment,
            layout,
            client,
            lines: vec![String::new()],
            lens: vec![0],
            texts: vec![text],
            emitted,
        };
        let mut first = prose.take_update()?;
        if !start.is_empty() {
            // Merged into the first update, so that position 0 is "the document as it
            // started", as in `Trace::encode`.
            let more = prose.apply(&[(0, 0, start.to_owned())])?;
            first = yrs::merge_updates_v1([first.as_slice(), more.as_slice()])
                .map_err(|e| anyhow::anyhow!("merging the start update: {e}"))?;
        }
        Ok((prose, first))
    }

    /// Applies one trace transaction (`[pos, del, ins]` patches in code points) in one yrs
    /// transaction and returns its update.
    pub fn apply(&mut self, patches: &[(u32, u32, String)]) -> Result<Vec<u8>> {
        {
            // A handle of its own (docs are shared handles), so the model can change beside
            // the transaction.
            let doc = self.doc.clone();
            let mut txn = doc.transact_mut();
            for (pos, del, ins) in patches {
                if *del > 0 {
                    self.delete(&mut txn, *pos, *del)?;
                }
                if !ins.is_empty() {
                    self.insert(&mut txn, *pos, ins)?;
                }
            }
        }
        self.take_update()
    }

    fn take_update(&self) -> Result<Vec<u8>> {
        let mut emitted = self.emitted.lock().unwrap();
        ensure!(
            emitted.len() == 1,
            "a transaction produced {} updates instead of one (empty patch?)",
            emitted.len()
        );
        Ok(emitted.pop().unwrap_or_default())
    }

    /// The writer's clock (its entry in the state vector).
    pub fn clock(&self) -> u32 {
        self.doc.transact().state_vector().get(&self.client)
    }

    /// The text so far, from the plain model (lines joined by '\n').
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Its length in code points.
    pub fn len(&self) -> u32 {
        self.lens.iter().sum::<u32>() + self.lens.len() as u32 - 1
    }

    /// The text as the yrs document holds it, for checking the model against it.
    pub fn doc_text(&self) -> String {
        prose_text(&self.doc)
    }

    /// Line and code-point offset within it of text offset `pos`. An offset at a line
    /// boundary is the end of the earlier line (before its '\n').
    fn locate(&self, pos: u32) -> Result<(usize, u32)> {
        let mut rest = pos;
        for (i, &len) in self.lens.iter().enumerate() {
            if rest <= len {
                return Ok((i, rest));
            }
            rest -= len + 1;
        }
        bail!(
            "offset {pos} lies beyond the text ({} code points)",
            self.len()
        )
    }

    fn delete(&mut self, txn: &mut TransactionMut, pos: u32, del: u32) -> Result<()> {
        let (l0, o0) = self.locate(pos)?;
        let (l1, o1) = self.locate(pos + del)?;
        if self.layout == Layout::Single {
            self.texts[0].remove_range(txn, pos, del);
        } else if l0 == l1 {
            self.texts[l0].remove_range(txn, o0, o1 - o0);
        } else {
            // Joining paragraphs: what is left of the last one moves into the first, as an
            // editor's backspace over a paragraph boundary does.
            let tail: String = self.lines[l1].chars().skip(o1 as usize).collect();
            if self.lens[l0] > o0 {
                self.texts[l0].remove_range(txn, o0, self.lens[l0] - o0);
            }
            self.fragment
                .remove_range(txn, l0 as u32 + 1, (l1 - l0) as u32);
            if !tail.is_empty() {
                self.texts[l0].insert(txn, o0, &tail);
            }
            self.texts.drain(l0 + 1..=l1);
        }
        let tail: String = self.lines[l1].chars().skip(o1 as usize).collect();
        let line = &mut self.lines[l0];
        line.truncate(byte_at(line, o0));
        line.push_str(&tail);
        self.lens[l0] = o0 + (self.lens[l1] - o1);
        self.lines.drain(l0 + 1..=l1);
        self.lens.drain(l0 + 1..=l1);
        Ok(())
    }

    fn insert(&mut self, txn: &mut TransactionMut, pos: u32, ins: &str) -> Result<()> {
        let (l, o) = self.locate(pos)?;
        let mut parts = ins.split('\n');
        let first = parts.next().unwrap_or("");
        let mut added: Vec<String> = parts.map(str::to_owned).collect();
        let at = byte_at(&self.lines[l], o);
        if added.is_empty() {
            self.lines[l].insert_str(at, ins);
            self.lens[l] += count(ins);
            let (text, offset) = match self.layout {
                Layout::Single => (&self.texts[0], pos),
                Layout::Paragraphs => (&self.texts[l], o),
            };
            text.insert(txn, offset, ins);
            return Ok(());
        }
        // A newline splits the line: the text after `o` moves to the last new line.
        let tail = self.lines[l].split_off(at);
        self.lines[l].push_str(first);
        self.lens[l] = o + count(first);
        if let Some(last) = added.last_mut() {
            last.push_str(&tail);
        }
        match self.layout {
            Layout::Single => self.texts[0].insert(txn, pos, ins),
            Layout::Paragraphs => {
                if !tail.is_empty() {
                    self.texts[l].remove_range(txn, o, count(&tail));
                }
                if !first.is_empty() {
                    self.texts[l].insert(txn, o, first);
                }
                for (k, line) in added.iter().enumerate() {
                    let text = paragraph(txn, &self.fragment, (l + 1 + k) as u32, line);
                    self.texts.insert(l + 1 + k, text);
                }
            }
        }
        let lens: Vec<u32> = added.iter().map(|s| count(s)).collect();
        self.lines.splice(l + 1..l + 1, added);
        self.lens.splice(l + 1..l + 1, lens);
        Ok(())
    }
}

/// Inserts a `paragraph` holding `text` at `index` of the fragment; returns its XmlText.
fn paragraph(
    txn: &mut TransactionMut,
    fragment: &XmlFragmentRef,
    index: u32,
    text: &str,
) -> XmlTextRef {
    let element = fragment.insert(txn, index, XmlElementPrelim::empty("paragraph"));
    element.push_back(txn, XmlTextPrelim::new(text))
}

fn count(s: &str) -> u32 {
    s.chars().count() as u32
}

/// The byte index of code point `chars` in `s` (its length at the end).
fn byte_at(s: &str, chars: u32) -> usize {
    s.char_indices()
        .nth(chars as usize)
        .map_or(s.len(), |(i, _)| i)
}

/// The text of a [`Prose`] document as a reader of the fragment sees it: the text of each
/// top-level element, joined by '\n'.
pub fn prose_text(doc: &Doc) -> String {
    let fragment = doc.get_or_insert_xml_fragment(FRAGMENT);
    let txn = doc.transact();
    let blocks: Vec<String> = fragment
        .children(&txn)
        .map(|node| match node {
            XmlOut::Element(element) => element
                .children(&txn)
                .map(|child| match child {
                    XmlOut::Text(text) => text.get_string(&txn),
                    _ => String::new(),
                })
                .collect(),
            XmlOut::Text(text) => text.get_string(&txn),
            XmlOut::Fragment(_) => String::new(),
        })
        .collect();
    blocks.join("\n")
}

/// The length in code points of [`prose_text`], without building it (the document's
/// offsets must count UTF-16 units, equal to code points for BMP-only text).
pub fn prose_len(doc: &Doc) -> u32 {
    let fragment = doc.get_or_insert_xml_fragment(FRAGMENT);
    let txn = doc.transact();
    let mut len = 0;
    let mut blocks = 0;
    for node in fragment.children(&txn) {
        blocks += 1;
        if let XmlOut::Element(element) = node {
            for child in element.children(&txn) {
                if let XmlOut::Text(text) = child {
                    len += text.len(&txn);
                }
            }
        }
    }
    len + blocks.max(1) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::Update;

    fn utf16_doc() -> Doc {
        Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        })
    }

    /// Replays `txns` as prose and checks, after every step, the model against a plain
    /// string edit, the writer's document, and a peer that applies only the updates.
    fn replay(layout: Layout, txns: &[(u32, u32, &str)]) -> (Prose, Doc) {
        let (mut prose, first) = Prose::new(ClientID::new(7), layout, "").unwrap();
        let peer = utf16_doc();
        let apply = |u: &[u8]| {
            peer.transact_mut()
                .apply_update(Update::decode_v1(u).unwrap())
                .unwrap()
        };
        apply(&first);
        let mut expected: Vec<char> = Vec::new();
        for &(pos, del, ins) in txns {
            let update = prose.apply(&[(pos, del, ins.to_owned())]).unwrap();
            apply(&update);
            let pos = pos as usize;
            expected.splice(pos..pos + del as usize, ins.chars());
            let expected: String = expected.iter().collect();
            assert_eq!(prose.text(), expected);
            assert_eq!(prose.len(), expected.chars().count() as u32);
            assert_eq!(prose.doc_text(), expected);
            assert_eq!(prose_text(&peer), expected);
            assert_eq!(prose_len(&peer), prose.len());
        }
        (prose, peer)
    }

    const EDITS: &[(u32, u32, &str)] = &[
        (0, 0, "Leitbild"),
        (8, 0, "\nSchule–Beruf\n\nÜbergang"),
        (4, 0, "\n"),    // split a paragraph
        (4, 1, ""),      // and join it again
        (6, 10, "x\ny"), // across two boundaries, inserting a newline
        (0, 0, "\n"),    // an empty first line
        (0, 1, ""),
        (3, 2, ""),
    ];

    #[test]
    fn paragraphs_follow_the_newlines() {
        let (prose, peer) = replay(Layout::Paragraphs, EDITS);
        let fragment = peer.get_or_insert_xml_fragment(FRAGMENT);
        let blocks = fragment.len(&peer.transact());
        assert_eq!(blocks as usize, prose.text().split('\n').count());
    }

    #[test]
    fn a_single_paragraph_holds_the_newlines() {
        let (_, peer) = replay(Layout::Single, EDITS);
        let fragment = peer.get_or_insert_xml_fragment(FRAGMENT);
        assert_eq!(fragment.len(&peer.transact()), 1);
    }

    #[test]
    fn offsets_beyond_the_text_are_an_error() {
        let (mut prose, _) = Prose::new(ClientID::new(7), Layout::Paragraphs, "ab\nc").unwrap();
        assert_eq!(prose.text(), "ab\nc");
        assert!(prose.apply(&[(5, 0, "x".into())]).is_err());
    }
}
