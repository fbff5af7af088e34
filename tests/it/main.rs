//! Leitbild's integration tests: one binary, real sockets on port 0, temporary data dirs.

mod crash;
mod durability;
mod support;
mod sync;
