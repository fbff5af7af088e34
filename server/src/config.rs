//! Server configuration: one `Config`, parsed by clap from flags and `LEITBILD_*` variables.
