//! A document's text as the blocks the diff compares (headings, paragraphs, list items,
//! quotes, code, rules), each text run tagged with an author found from its CRDT ids.
//!
//! Reads y-prosemirror's layout like `render` does, with an explicit stack. To learn the
//! id of every character it asks yrs for the text's changes between an empty snapshot and
//! the current one: every visible item then comes back as "added", with its id. That
//! splits items at the snapshot's boundary, so it takes a write transaction: call it on a
//! document of your own (a replay), never on a room's.

use yrs::types::text::{ChangeKind, YChange};
use yrs::types::Attrs;
use yrs::{
    Any, Doc, IdSet, Out, ReadTxn, Snapshot, Text, Transact, TransactionMut, XmlFragment, XmlOut,
    ID,
};

use super::diff::{Block, BlockKind, Run};
use crate::render::{attr_number, mark_name, MAX_NESTING};

/// Where a block sits: inside which lists and quotes.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// The innermost list: ordered or not, and how deep.
    list: Option<(bool, u8)>,
    quote: bool,
    depth: usize,
}

struct Frame {
    context: Context,
    children: Vec<XmlOut>,
    next: usize,
}

/// Who wrote the character with a given id (an index into the caller's table), and the
/// clock up to which the characters of that client share the answer.
pub type AuthorOf<'a> = &'a dyn Fn(&ID) -> (Option<u32>, u32);

/// The blocks of `doc`'s `default` fragment, each character's author named by `author`.
pub fn blocks(doc: &Doc, author: AuthorOf) -> Vec<Block> {
    let mut txn = doc.transact_mut();
    let Some(root) = txn.get_xml_fragment("default") else {
        return Vec::new();
    };
    // The state vector without the delete set: yrs splits the document's blocks by the
    // snapshot on every call, and splitting by a large delete set once per paragraph
    // made a long document's blame take seconds. Deleted items are skipped below by the
    // real delete set instead (their content is garbage-collected anyway).
    let real = txn.snapshot();
    let deleted = real.delete_set;
    let now = Snapshot::new(real.state_map, IdSet::default());
    let mut out = Vec::new();
    let mut stack = vec![Frame {
        context: Context::default(),
        children: root.children(&txn).collect(),
        next: 0,
    }];
    while let Some(frame) = stack.last_mut() {
        let Some(child) = frame.children.get(frame.next).cloned() else {
            stack.pop();
            continue;
        };
        frame.next += 1;
        let context = frame.context;
        let text_kind = match context {
            Context {
                list: Some((ordered, depth)),
                ..
            } => BlockKind::ListItem { ordered, depth },
            Context { quote: true, .. } => BlockKind::Quote,
            _ => BlockKind::Paragraph,
        };
        let element = match child {
            XmlOut::Text(text) => {
                let runs = runs(&mut txn, &now, &deleted, &[XmlOut::Text(text)], author);
                out.push(Block {
                    kind: text_kind,
                    runs,
                });
                continue;
            }
            XmlOut::Fragment(fragment) => {
                let children = fragment.children(&txn).collect();
                stack.push(Frame {
                    context,
                    children,
                    next: 0,
                });
                continue;
            }
            XmlOut::Element(element) => element,
        };
        let tag = element.tag().to_string();
        let children: Vec<XmlOut> = element.children(&txn).collect();
        let kind = match tag.as_str() {
            "paragraph" => Some(text_kind),
            "heading" => Some(BlockKind::Heading(
                attr_number(&txn, &element, "level").map_or(1, |l| l.clamp(1.0, 6.0) as u8),
            )),
            "codeBlock" => Some(BlockKind::Code),
            "horizontalRule" => Some(BlockKind::Rule),
            _ => None,
        };
        if let Some(kind) = kind {
            let runs = runs(&mut txn, &now, &deleted, &children, author);
            out.push(Block { kind, runs });
            continue;
        }
        let mut inner = context;
        if context.depth < MAX_NESTING {
            inner.depth += 1;
            match tag.as_str() {
                "bulletList" | "orderedList" => {
                    let depth = context.list.map_or(0, |(_, d)| d.saturating_add(1));
                    inner.list = Some((tag == "orderedList", depth));
                }
                "blockquote" => inner.quote = true,
                _ => {}
            }
        }
        stack.push(Frame {
            context: inner,
            children,
            next: 0,
        });
    }
    out
}

/// The text runs under `nodes` (a textblock's children), split where marks or authors
/// change. Inline elements: a hard break is a line break, others give their text.
fn runs(
    txn: &mut TransactionMut,
    now: &Snapshot,
    deleted: &IdSet,
    nodes: &[XmlOut],
    author: AuthorOf,
) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut push = |text: &str, marks: &[String], by: Option<u32>| match out.last_mut() {
        Some(last) if last.marks == marks && last.author == by => last.text.push_str(text),
        _ => out.push(Run {
            text: text.to_owned(),
            marks: marks.to_vec(),
            author: by,
        }),
    };
    let empty = Snapshot::default();
    let mut todo: Vec<XmlOut> = nodes.iter().rev().cloned().collect();
    while let Some(node) = todo.pop() {
        match node {
            XmlOut::Text(text) => {
                for chunk in text.diff_range(txn, Some(now), Some(&empty), YChange::identity) {
                    let Out::Any(Any::String(s)) = chunk.insert else {
                        continue;
                    };
                    let marks = chunk.attributes.as_deref().map(marks).unwrap_or_default();
                    let Some(change) = chunk.ychange.filter(|c| c.kind == ChangeKind::Added) else {
                        push(&s, &marks, None);
                        continue;
                    };
                    // A chunk is one item: deleted as a whole or not at all.
                    if deleted.contains(&change.id) {
                        continue;
                    }
                    // Each character's id: the item's first id plus its UTF-16 offset.
                    // The author is asked again only where its answer may change.
                    let mut clock = change.id.clock;
                    let mut start = 0;
                    let (mut current, mut until) = author(&change.id);
                    for (at, c) in s.char_indices() {
                        if clock >= until {
                            let (by, next) = author(&ID::new(change.id.client, clock));
                            until = next;
                            if by != current {
                                push(&s[start..at], &marks, current);
                                (start, current) = (at, by);
                            }
                        }
                        clock += c.len_utf16() as u32;
                    }
                    push(&s[start..], &marks, current);
                }
            }
            XmlOut::Element(element) => {
                if element.tag().as_ref() == "hardBreak" {
                    push("\n", &[], None);
                } else {
                    let children: Vec<XmlOut> = element.children(&*txn).collect();
                    todo.extend(children.into_iter().rev());
                }
            }
            XmlOut::Fragment(fragment) => {
                let children: Vec<XmlOut> = fragment.children(&*txn).collect();
                todo.extend(children.into_iter().rev());
            }
        }
    }
    out.retain(|run| !run.text.is_empty());
    out
}

/// A run's marks as sorted names (`bold`, `italic`, `link:https://…`).
fn marks(attributes: &Attrs) -> Vec<String> {
    let mut marks: Vec<String> = attributes
        .iter()
        .filter(|(_, value)| !matches!(value, Any::Null | Any::Undefined))
        .map(|(name, value)| match (mark_name(name), value) {
            ("link", Any::Map(attrs)) => match attrs.get("href") {
                Some(Any::String(href)) => format!("link:{href}"),
                _ => "link".to_owned(),
            },
            (name, _) => name.to_owned(),
        })
        .collect();
    marks.sort();
    marks.dedup();
    marks
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Any, StateVector, Update, Xml, XmlElementPrelim, XmlTextPrelim};

    #[test]
    fn blocks_follow_the_structure_and_runs_carry_each_characters_author() {
        let first = Doc::with_client_id(1);
        let root = first.get_or_insert_xml_fragment("default");
        {
            let mut txn = first.transact_mut();
            let h = root.push_back(&mut txn, XmlElementPrelim::empty("heading"));
            h.insert_attribute(&mut txn, "level", Any::from(2));
            h.push_back(&mut txn, XmlTextPrelim::new("Ziele"));
            let list = root.push_back(&mut txn, XmlElementPrelim::empty("orderedList"));
            let item = list.push_back(&mut txn, XmlElementPrelim::empty("listItem"));
            let p = item.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new("Bildung für "));
            let quote = root.push_back(&mut txn, XmlElementPrelim::empty("blockquote"));
            let p = quote.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new("Zitat"));
        }
        // A second author appends to the list item.
        let second = Doc::with_client_id(2);
        let state = first
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        second
            .transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        {
            let root = second.get_or_insert_xml_fragment("default");
            let mut txn = second.transact_mut();
            let Some(XmlOut::Element(list)) = root.get(&txn, 1) else {
                panic!("list")
            };
            let Some(XmlOut::Element(item)) = list.get(&txn, 0) else {
                panic!("item")
            };
            let Some(XmlOut::Element(p)) = item.get(&txn, 0) else {
                panic!("paragraph")
            };
            let Some(XmlOut::Text(text)) = p.get(&txn, 0) else {
                panic!("text")
            };
            text.insert(&mut txn, 13, "alle"); // bytes: "ü" is two
        }
        let by_client = |id: &ID| (Some(id.client.get() as u32), id.clock + 1);
        let blocks = blocks(&second, &by_client);
        let kinds: Vec<_> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                BlockKind::Heading(2),
                BlockKind::ListItem {
                    ordered: true,
                    depth: 0
                },
                BlockKind::Quote
            ]
        );
        let runs: Vec<(&str, Option<u32>)> = blocks[1]
            .runs
            .iter()
            .map(|r| (r.text.as_str(), r.author))
            .collect();
        assert_eq!(runs, [("Bildung für ", Some(1)), ("alle", Some(2))]);
        assert_eq!(blocks[0].runs[0].text, "Ziele");
    }
}
