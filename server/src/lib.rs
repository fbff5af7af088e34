//! Leitbild: a Yjs-compatible collaborative editor server with durable history.
//!
//! The crate is a library so that tests and the load tool can start the real server
//! in-process with [`serve`]; `main.rs` only parses arguments and calls it.

pub mod access;
pub mod archive;
mod assets;
pub mod auth;
pub mod backup;
pub mod check;
pub mod cli;
pub mod config;
mod connection;
pub mod demo;
pub mod guard;
pub mod history;
mod http;
pub mod metrics;
pub mod name;
pub mod portable;
pub mod render;
mod room;
mod rooms;
mod server;
pub mod store;
pub mod timestamp;

pub use config::Config;
pub use server::{serve, serve_and_tell, ServeError, Started};
