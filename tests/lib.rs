//! Integration tests for Leitbild live in `it/`; this crate has no library code.
