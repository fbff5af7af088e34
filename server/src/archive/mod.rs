//! The archive of adopted texts: what an entry freezes, the canonical bytes its hashes are
//! taken over, and the check of the hash chain. Pure: the store keeps entries, HTTP and
//! the CLI serve them; nothing here does I/O.

pub mod entry;
pub mod feed;
pub mod page;
pub mod verify;

pub use entry::{Adoption, BadAdoption, Entry, Frozen};
pub use verify::{verify, Problem, Report};
