//! Leitbild's integration tests: one binary, real sockets on port 0, temporary data dirs.

mod attacks;
mod durability;
mod hostile;
mod support;
mod sync;
