//! The change that brings a document back to an earlier text: applied on top of the
//! current state (history is kept), written under a 32-bit client id (`demo::server_doc`)
//! so that Yjs 13 clients read it. Pure: state in, update out.

use yrs::types::text::YChange;
use yrs::types::Delta;
use yrs::updates::decoder::Decode;
use yrs::{
    Doc, GetString, In, Out, ReadTxn, Text, Transact, TransactionMut, Update, Xml,
    XmlElementPrelim, XmlElementRef, XmlFragment, XmlFragmentRef, XmlOut, XmlTextPrelim,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestoreError {
    #[error("a stored state does not decode")]
    BadState,
}

/// A document holding `state` (a v1 update).
pub fn doc_of(state: &[u8]) -> Result<Doc, RestoreError> {
    let doc = Doc::new();
    let update = Update::decode_v1(state).map_err(|_| RestoreError::BadState)?;
    doc.transact_mut()
        .apply_update(update)
        .map_err(|_| RestoreError::BadState)?;
    Ok(doc)
}

/// The text of the `default` fragment with its structure, attributes and formatting: two
/// documents that print the same show the same.
pub fn fingerprint(doc: &Doc) -> String {
    let txn = doc.transact();
    txn.get_xml_fragment("default")
        .map(|root| root.get_string(&txn))
        .unwrap_or_default()
}

/// The update (v1) that turns `current` into the text of `target`, or `None` if the two
/// texts are the same already. Every node of `current` is deleted and `target`'s are
/// written anew, by the server.
pub fn restoring_update(current: &[u8], target: &[u8]) -> Result<Option<Vec<u8>>, RestoreError> {
    let source = doc_of(target)?;
    let doc = crate::demo::server_doc();
    {
        let update = Update::decode_v1(current).map_err(|_| RestoreError::BadState)?;
        doc.transact_mut()
            .apply_update(update)
            .map_err(|_| RestoreError::BadState)?;
    }
    if fingerprint(&doc) == fingerprint(&source) {
        return Ok(None);
    }
    let before = doc.transact().state_vector();
    let root = doc.get_or_insert_xml_fragment("default");
    let mut txn = doc.transact_mut();
    let len = root.len(&txn);
    root.remove_range(&mut txn, 0, len);
    let read = source.transact();
    if let Some(from) = read.get_xml_fragment("default") {
        copy(&read, &from, &mut txn, root);
    }
    Ok(Some(txn.encode_state_as_update_v1(&before)))
}

/// Where copied nodes go.
enum Parent {
    Root(XmlFragmentRef),
    Element(XmlElementRef),
}

impl Parent {
    fn push_element(&self, txn: &mut TransactionMut, tag: &str) -> XmlElementRef {
        let prelim = XmlElementPrelim::empty(tag);
        match self {
            Parent::Root(root) => root.push_back(txn, prelim),
            Parent::Element(element) => element.push_back(txn, prelim),
        }
    }

    fn push_text(&self, txn: &mut TransactionMut) -> yrs::XmlTextRef {
        let prelim = XmlTextPrelim::new("");
        match self {
            Parent::Root(root) => root.push_back(txn, prelim),
            Parent::Element(element) => element.push_back(txn, prelim),
        }
    }
}

/// Copies the tree under `from` into `to`, attributes with their JSON types and text with
/// its formatting, with an explicit stack (each entry: the children still to copy, in
/// reverse, and where they go).
fn copy<T: ReadTxn>(read: &T, from: &XmlFragmentRef, txn: &mut TransactionMut, to: XmlFragmentRef) {
    let mut stack: Vec<(Vec<XmlOut>, Parent)> =
        vec![(reversed(from.children(read)), Parent::Root(to))];
    while let Some((mut children, parent)) = stack.pop() {
        let Some(child) = children.pop() else {
            continue;
        };
        match child {
            XmlOut::Element(element) => {
                let copy = parent.push_element(txn, element.tag());
                for (name, value) in element.attributes(read) {
                    if let Out::Any(any) = value {
                        copy.insert_attribute(txn, name, any);
                    }
                }
                let grandchildren = reversed(element.children(read));
                stack.push((children, parent));
                stack.push((grandchildren, Parent::Element(copy)));
            }
            XmlOut::Text(text) => {
                let copy = parent.push_text(txn);
                let delta: Vec<Delta<In>> = text
                    .diff(read, YChange::identity)
                    .into_iter()
                    .filter_map(|chunk| match chunk.insert {
                        Out::Any(any) => Some(Delta::Inserted(In::Any(any), chunk.attributes)),
                        _ => None,
                    })
                    .collect();
                copy.apply_delta(txn, delta);
                stack.push((children, parent));
            }
            XmlOut::Fragment(_) => stack.push((children, parent)),
        }
    }
}

fn reversed(children: impl Iterator<Item = XmlOut>) -> Vec<XmlOut> {
    let mut children: Vec<XmlOut> = children.collect();
    children.reverse();
    children
}

/// The state vector of a v1 state, encoded (v1).
pub fn state_vector_of(state: &[u8]) -> Result<Vec<u8>, RestoreError> {
    use yrs::updates::encoder::Encode;
    let update = Update::decode_v1(state).map_err(|_| RestoreError::BadState)?;
    Ok(update.state_vector().encode_v1())
}
