//! Prometheus counters and gauges of the whole server, rendered as text for `GET /metrics`.
//!
//! Plain atomics: recording a figure never takes a lock or allocates on the hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the flush latency histogram buckets.
const FLUSH_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Reasons a message or connection is refused, as metric labels.
pub const REJECT_REASONS: [&str; 10] = [
    "too_big",
    "malformed",
    "unsafe",
    "text_frame",
    "slow_peer",
    "too_many_connections",
    "too_many_docs",
    "read_only",
    "unauthenticated",
    "forbidden",
];

#[derive(Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub open_docs: AtomicU64,
    pub updates_received: AtomicU64,
    pub updates_broadcast: AtomicU64,
    pub bytes_persisted: AtomicU64,
    /// 1 while storage is failing (a flush failed and has not succeeded since).
    pub storage_failing: AtomicU64,
    /// Damaged values and documents found on reads.
    pub corrupt: AtomicU64,
    flush_buckets: [AtomicU64; FLUSH_BUCKETS.len()],
    flush_count: AtomicU64,
    flush_sum_us: AtomicU64,
    rejected: [AtomicU64; REJECT_REASONS.len()],
}

impl Metrics {
    pub fn observe_flush(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in FLUSH_BUCKETS.iter().zip(&self.flush_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.flush_count.fetch_add(1, Relaxed);
        self.flush_sum_us
            .fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    /// Counts a refusal; `reason` should be one of [`REJECT_REASONS`].
    pub fn reject(&self, reason: &str) {
        if let Some(i) = REJECT_REASONS.iter().position(|r| *r == reason) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauges = [
            (
                "leitbild_connections",
                "Open websocket connections.",
                &self.connections,
            ),
            (
                "leitbild_open_documents",
                "Documents loaded in memory.",
                &self.open_docs,
            ),
            (
                "leitbild_storage_failing",
                "1 while storage is failing: a flush failed and none has succeeded since.",
                &self.storage_failing,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                value.load(Relaxed)
            );
        }
        let counters = [
            (
                "leitbild_corrupt_total",
                "Damaged values or documents found when reading the store.",
                &self.corrupt,
            ),
            (
                "leitbild_updates_received_total",
                "Document updates accepted from peers.",
                &self.updates_received,
            ),
            (
                "leitbild_updates_broadcast_total",
                "Update messages sent to peers.",
                &self.updates_broadcast,
            ),
            (
                "leitbild_bytes_persisted_total",
                "Bytes written to the update log and snapshots.",
                &self.bytes_persisted,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Relaxed)
            );
        }
        let name = "leitbild_rejected_total";
        let _ = writeln!(
            out,
            "# HELP {name} Messages and connections refused, by reason.\n# TYPE {name} counter"
        );
        for (reason, value) in REJECT_REASONS.iter().zip(&self.rejected) {
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {}", value.load(Relaxed));
        }
        let name = "leitbild_flush_seconds";
        let _ = writeln!(out, "# HELP {name} Latency of one group-commit flush of the store.\n# TYPE {name} histogram");
        for (bound, bucket) in FLUSH_BUCKETS.iter().zip(&self.flush_buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.flush_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.flush_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histogram_and_labels() {
        let m = Metrics::default();
        m.observe_flush(Duration::from_micros(300));
        m.reject("too_big");
        m.updates_received.fetch_add(3, Relaxed);
        let text = m.render();
        assert!(text.contains("leitbild_flush_seconds_bucket{le=\"0.00025\"} 0"));
        assert!(text.contains("leitbild_flush_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("leitbild_flush_seconds_count 1"));
        assert!(text.contains("leitbild_rejected_total{reason=\"too_big\"} 1"));
        assert!(text.contains("leitbild_updates_received_total 3"));
    }
}
