//! Leitbild's integration tests: one binary, real sockets on port 0, temporary data dirs.

mod support;
mod sync;
