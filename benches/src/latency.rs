//! Latency samples and their percentiles. Samples are microseconds in a `u32` (an hour
//! fits), so millions of them cost a few megabytes and no allocation per sample.

/// Percentiles of a set of latency samples, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub p50_us: u32,
    pub p99_us: u32,
    pub max_us: u32,
}

impl Summary {
    /// Summarise `samples` (sorted in place). `None` when there are no samples.
    pub fn of(samples: &mut [u32]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(Summary {
            count: samples.len(),
            p50_us: nearest_rank(samples, 50.0),
            p99_us: nearest_rank(samples, 99.0),
            max_us: samples[samples.len() - 1],
        })
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample such that at least
/// `p` percent of all samples are less than or equal to it.
pub fn nearest_rank(sorted: &[u32], p: f64) -> u32 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds between two timestamps in nanoseconds, saturating.
pub fn micros_between(from_ns: u64, to_ns: u64) -> u32 {
    (to_ns.saturating_sub(from_ns) / 1_000).min(u32::MAX as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<u32> = (1..=100).rev().collect();
        let s = Summary::of(&mut samples).unwrap();
        assert_eq!((s.count, s.p50_us, s.p99_us, s.max_us), (100, 50, 99, 100));
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let s = Summary::of(&mut [7]).unwrap();
        assert_eq!((s.p50_us, s.p99_us, s.max_us), (7, 7, 7));
    }

    #[test]
    fn no_samples_no_summary() {
        assert!(Summary::of(&mut []).is_none());
    }
}
