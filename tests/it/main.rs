//! Leitbild's integration tests: one binary, real sockets on port 0, temporary data dirs.

mod access;
mod api;
mod archive;
mod binary;
mod check;
mod corruption;
mod crash;
mod durability;
mod history;
mod hostile;
mod integrity;
mod limits;
mod operator;
mod portable;
mod support;
mod sync;
