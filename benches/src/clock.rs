//! One monotonic time base for the whole run, as nanoseconds in a `u64`, so that send
//! times can be shared between tasks in plain atomics.

use std::sync::OnceLock;
use std::time::Instant;

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the first call (never 0 after that first call).
pub fn now_ns() -> u64 {
    let origin = *ORIGIN.get_or_init(Instant::now);
    origin.elapsed().as_nanos() as u64 + 1
}
