//! Failed-token limiting per IP address: a fixed one-minute window of failures. Pure: the
//! caller passes the time, so the rules are unit-tested without waiting.
//!
//! An address over the limit gets 429 for every request that presents a credential until
//! its window ends, valid or not: checking a guess is what the limit must stop. With
//! 256-bit tokens guessing is hopeless anyway; the limit keeps the noise of scanners out of
//! the store and the logs. People behind one address (a conference's wifi) do not fail,
//! so they are not limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; beyond that, expired windows are dropped, and if that is
/// not enough, all of them (limiting fails open rather than growing without bound).
const MAX_ADDRESSES: usize = 10_000;

pub struct FailureLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl FailureLimiter {
    pub fn new(per_minute: u32) -> FailureLimiter {
        FailureLimiter {
            per_minute: per_minute.max(1),
            windows: Mutex::default(),
        }
    }

    /// `Err(retry_after)` if `ip` has used up its failures in the current window.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(&ip) {
            Some(w) if now.duration_since(w.started) < WINDOW && w.failures >= self.per_minute => {
                Err(WINDOW - now.duration_since(w.started))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed attempt of `ip`.
    pub fn fail(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&ip) {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if windows.len() >= MAX_ADDRESSES {
                windows.clear();
            }
        }
        let window = windows.entry(ip).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_after_its_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip, t0), Ok(()));
            limiter.fail(ip, t0);
        }
        let later = t0 + Duration::from_secs(20);
        assert_eq!(limiter.check(ip, later), Err(Duration::from_secs(40)));
        assert_eq!(limiter.check(other, later), Ok(()), "per address");
        let next_window = t0 + WINDOW;
        assert_eq!(limiter.check(ip, next_window), Ok(()));
        limiter.fail(ip, next_window);
        assert_eq!(limiter.check(ip, next_window), Ok(()), "a fresh window");
    }

    #[test]
    fn the_table_stays_bounded() {
        let limiter = FailureLimiter::new(1);
        let t0 = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 10) {
            limiter.fail(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(limiter.windows.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
