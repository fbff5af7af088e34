//! Test fixtures: a `Doc` built the way y-prosemirror stores ProseMirror nodes, so that
//! every renderer's tests start from the same layout. Test-only; nothing here is shipped.

use std::collections::HashMap;
use std::sync::Arc;

use yrs::types::Attrs;
use yrs::{Any, Doc, Text, Transact, TransactionMut, Xml, XmlElementPrelim, XmlFragment};
use yrs::{XmlTextPrelim, XmlTextRef};

use super::{render, Format};

/// A ProseMirror node as y-prosemirror stores it.
pub(super) enum N {
    /// An element: tag, attributes, children.
    E(&'static str, Vec<(&'static str, Any)>, Vec<N>),
    /// One `XmlText` holding a run of text nodes: (text, marks with their attrs).
    T(Vec<(&'static str, Vec<(&'static str, Any)>)>),
}
pub(super) use N::{E, T};

pub(super) fn empty() -> Any {
    Any::Map(Arc::new(HashMap::new()))
}

pub(super) fn p(text: &'static str) -> N {
    E("paragraph", vec![], vec![T(vec![(text, vec![])])])
}

pub(super) fn h(level: i64, text: &'static str) -> N {
    E(
        "heading",
        vec![("level", Any::from(level))],
        vec![T(vec![(text, vec![])])],
    )
}

pub(super) fn li(children: Vec<N>) -> N {
    E("listItem", vec![], children)
}

pub(super) fn ul(items: Vec<N>) -> N {
    E("bulletList", vec![], items)
}

pub(super) fn ol(start: i64, items: Vec<N>) -> N {
    E("orderedList", vec![("start", Any::from(start))], items)
}

pub(super) fn quote(children: Vec<N>) -> N {
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

pub(super) fn doc(nodes: &[N]) -> Doc {
    let doc = Doc::new();
    let fragment = doc.get_or_insert_xml_fragment("default");
    let mut txn = doc.transact_mut();
    for node in nodes {
        insert(&mut txn, &fragment, node);
    }
    drop(txn);
    doc
}

pub(super) fn all(nodes: &[N]) -> (String, String, String) {
    let d = doc(nodes);
    (
        render(&d, Format::Markdown),
        render(&d, Format::Html),
        render(&d, Format::Text),
    )
}
