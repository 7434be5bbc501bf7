use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::AlertRule;

const BUCKETS: usize = AlertRule::WINDOW_BUCKETS as usize;

/// Calls and failures of the last window, in [`BUCKETS`] buckets that a timer rotates.
///
/// Every slot of a runner writes it on every finished delivery, so it is lock-free and
/// reads no clock: recording is one or two atomic adds in the current bucket, and the
/// runner's alert task moves to the next bucket (clearing it) every tenth of the window.
/// The circuit breaker's window, kept under the breaker's lock and stamped with a clock
/// reading per call, would cost every job both.
#[derive(Debug)]
pub(super) struct RateWindow {
    buckets: [Bucket; BUCKETS],
    current: AtomicUsize,
}

#[derive(Debug, Default)]
struct Bucket {
    calls: AtomicU32,
    failures: AtomicU32,
}

/// A window's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) calls: u32,
    pub(super) failures: u32,
}

impl Counts {
    /// Failures out of calls; 0 for an empty window.
    pub(super) fn rate(self) -> f64 {
        if self.calls == 0 { 0.0 } else { f64::from(self.failures) / f64::from(self.calls) }
    }
}

impl RateWindow {
    pub(super) fn new() -> Self {
        Self { buckets: Default::default(), current: AtomicUsize::new(0) }
    }

    /// Counts one call, failed or not.
    pub(super) fn record(&self, failed: bool) {
        let bucket = &self.buckets[self.current.load(Ordering::Relaxed)];
        bucket.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            bucket.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The totals over every bucket.
    pub(super) fn counts(&self) -> Counts {
        self.buckets.iter().fold(Counts::default(), |sum, bucket| Counts {
            calls: sum.calls.saturating_add(bucket.calls.load(Ordering::Relaxed)),
            failures: sum.failures.saturating_add(bucket.failures.load(Ordering::Relaxed)),
        })
    }

    /// Slides the window by one bucket: the oldest one is cleared and becomes the current.
    /// Only the alert task calls it.
    pub(super) fn advance(&self) {
        let next = (self.current.load(Ordering::Relaxed) + 1) % BUCKETS;
        let bucket = &self.buckets[next];
        bucket.calls.store(0, Ordering::Relaxed);
        bucket.failures.store(0, Ordering::Relaxed);
        self.current.store(next, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_buckets_age_out_after_a_full_turn() {
        let window = RateWindow::new();
        window.record(true);
        window.record(false);
        assert_eq!(window.counts(), Counts { calls: 2, failures: 1 });
        for _ in 0..BUCKETS - 1 {
            window.advance();
            window.record(false);
        }
        assert_eq!(window.counts(), Counts { calls: 11, failures: 1 });
        window.advance();
        assert_eq!(window.counts(), Counts { calls: 9, failures: 0 });
        assert_eq!(Counts::default().rate(), 0.0);
    }
}
