//! Leitbild: a Yjs-compatible collaborative editor server with durable history.
//!
//! The crate is a library so that tests and the load tool can start the real server
//! in-process with [`serve`]; `main.rs` only parses arguments and calls it.

pub mod config;
pub mod demo;
pub mod guard;
pub mod render;
