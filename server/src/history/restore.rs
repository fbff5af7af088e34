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

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::types::Attrs;
    use yrs::{Any, StateVector, XmlTextPrelim};

    /// A document with a heading (level 2, a number) and a paragraph with a bold word.
    fn written(heading: &str, word: &str) -> Vec<u8> {
        let doc = Doc::with_client_id(u64::from(u32::MAX) + 12345);
        let root = doc.get_or_insert_xml_fragment("default");
        let mut txn = doc.transact_mut();
        let h = root.push_back(&mut txn, XmlElementPrelim::empty("heading"));
        h.insert_attribute(&mut txn, "level", Any::from(2));
        h.push_back(&mut txn, XmlTextPrelim::new(heading));
        let p = root.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        let text = p.push_back(&mut txn, XmlTextPrelim::new("Wir stehen für "));
        let bold = Attrs::from([("bold".into(), Any::Map(Default::default()))]);
        text.insert_with_attributes(&mut txn, 15, word, bold);
        txn.encode_state_as_update_v1(&StateVector::default())
    }

    #[test]
    fn a_restore_writes_the_target_text_with_attributes_and_marks_under_a_32_bit_id() {
        let target = written("Leitbild", "Bildung");
        let current = written("Entwurf", "Teilhabe");
        let update = restoring_update(&current, &target)
            .unwrap()
            .expect("a change");
        let decoded = Update::decode_v1(&update).unwrap();
        for client in decoded.state_vector().iter().map(|(c, _)| c.get()) {
            assert!(
                client <= u64::from(u32::MAX),
                "client id {client} fits Yjs 13"
            );
        }
        let doc = doc_of(&current).unwrap();
        doc.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        assert_eq!(fingerprint(&doc), fingerprint(&doc_of(&target).unwrap()));
        assert!(
            fingerprint(&doc).contains("level=\"2\""),
            "{}",
            fingerprint(&doc)
        );
        let root = doc.get_or_insert_xml_fragment("default");
        let txn = doc.transact();
        let Some(XmlOut::Element(heading)) = root.get(&txn, 0) else {
            panic!("a heading");
        };
        assert!(
            matches!(
                heading.get_attribute(&txn, "level"),
                Some(Out::Any(Any::Number(n))) if n.as_f64() == Some(2.0)
            ),
            "the level stays a number, as y-prosemirror wrote it"
        );
    }

    #[test]
    fn restoring_the_current_text_changes_nothing() {
        let state = written("Leitbild", "Bildung");
        assert_eq!(restoring_update(&state, &state).unwrap(), None);
        assert_eq!(
            restoring_update(&state, b"junk"),
            Err(RestoreError::BadState)
        );
    }
}
