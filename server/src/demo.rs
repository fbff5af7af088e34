//! The demo document a fresh data dir starts with, and docs written by the server itself.

use yrs::Doc;

pub const DEMO_ID: &str = "bildungsleitbild";
pub const DEMO_TITLE: &str = "Bildungsleitbild – Entwurf";

/// A `Doc` for content the server writes itself, with a 32-bit client id so that
/// Yjs 13 clients read it.
pub fn server_doc() -> Doc {
    todo!("render helper")
}

/// The demo document as one v1 update.
pub fn demo_update() -> Vec<u8> {
    todo!("render helper")
}
