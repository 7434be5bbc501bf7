use std::time::Duration;

use tokio::time::Instant;

use super::config::SlidingWindow;

/// The counts of a window: completed calls, and how many of them failed or were slow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) calls: u32,
    pub(super) failures: u32,
    pub(super) slow: u32,
}

impl Counts {
    fn add(&mut self, failed: bool, slow: bool) {
        self.calls += 1;
        self.failures += u32::from(failed);
        self.slow += u32::from(slow);
    }

    fn remove(&mut self, other: Counts) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
    }
}

/// The outcomes of a closed breaker's recent calls. Allocated once, when the breaker is
/// built; recording an outcome is a few integer operations.
#[derive(Debug)]
pub(super) enum Window {
    Calls(CallWindow),
    Time(TimeWindow),
}

impl Window {
    pub(super) fn new(kind: SlidingWindow, now: Instant) -> Self {
        match kind {
            SlidingWindow::Calls(size) => Window::Calls(CallWindow {
                outcomes: vec![0; size as usize].into_boxed_slice(),
                next: 0,
                counts: Counts::default(),
            }),
            SlidingWindow::Time(span) => Window::Time(TimeWindow {
                buckets: [Counts::default(); SlidingWindow::TIME_BUCKETS as usize],
                width: (span / SlidingWindow::TIME_BUCKETS).max(Duration::from_nanos(1)),
                origin: now,
                current: 0,
                counts: Counts::default(),
            }),
        }
    }

    /// Records one call's outcome (at `now`, which a time window needs) and returns the
    /// window's counts.
    pub(super) fn record(&mut self, failed: bool, slow: bool, now: Option<Instant>) -> Counts {
        match self {
            Window::Calls(window) => window.record(failed, slow),
            Window::Time(window) => window.record(failed, slow, now.unwrap_or_else(Instant::now)),
        }
    }

    /// Records `count` successful calls that completed before the next outcome. Only a
    /// call window takes them: a time window needs each call's time, so its successes are
    /// recorded one by one (see `Shared::record`).
    pub(super) fn record_successes(&mut self, count: u32) {
        if let Window::Calls(window) = self {
            window.record_successes(count);
        }
    }

    /// Forgets every outcome.
    pub(super) fn clear(&mut self) {
        match self {
            Window::Calls(window) => {
                window.next = 0;
                window.counts = Counts::default();
            }
            Window::Time(window) => {
                window.buckets = [Counts::default(); SlidingWindow::TIME_BUCKETS as usize];
                window.counts = Counts::default();
            }
        }
    }
}

/// The last `outcomes.len()` calls, one byte each (bit 0: failed, bit 1: slow), as a ring.
#[derive(Debug)]
pub(super) struct CallWindow {
    outcomes: Box<[u8]>,
    next: usize,
    counts: Counts,
}

const FAILED: u8 = 1;
const SLOW: u8 = 2;

impl CallWindow {
    fn record(&mut self, failed: bool, slow: bool) -> Counts {
        let full = self.counts.calls as usize == self.outcomes.len();
        let slot = &mut self.outcomes[self.next];
        if full {
            let old = *slot;
            self.counts.remove(Counts {
                calls: 1,
                failures: u32::from(old & FAILED),
                slow: u32::from((old & SLOW) >> 1),
            });
        }
        *slot = (u8::from(failed) * FAILED) | (u8::from(slow) * SLOW);
        self.counts.add(failed, slow);
        self.next = (self.next + 1) % self.outcomes.len();
        self.counts
    }

    fn record_successes(&mut self, count: u32) {
        if count as usize >= self.outcomes.len() {
            self.outcomes.fill(0);
            self.counts = Counts { calls: self.outcomes.len() as u32, failures: 0, slow: 0 };
            return;
        }
        for _ in 0..count {
            self.record(false, false);
        }
    }
}

/// The calls of the last `TIME_BUCKETS × width`, counted per bucket of `width`.
#[derive(Debug)]
pub(super) struct TimeWindow {
    buckets: [Counts; SlidingWindow::TIME_BUCKETS as usize],
    width: Duration,
    origin: Instant,
    /// The bucket number (time since `origin` / `width`) the latest outcome fell in.
    current: u64,
    counts: Counts,
}

impl TimeWindow {
    fn record(&mut self, failed: bool, slow: bool, now: Instant) -> Counts {
        self.advance(now);
        self.buckets[(self.current % u64::from(SlidingWindow::TIME_BUCKETS)) as usize].add(failed, slow);
        self.counts.add(failed, slow);
        self.counts
    }

    /// Moves the window to the bucket of `now`, dropping the buckets that fell out. A clock
    /// reading older than the latest one (taken before another thread's) counts as the
    /// current bucket.
    fn advance(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos() / self.width.as_nanos();
        let bucket = u64::try_from(elapsed).unwrap_or(u64::MAX);
        if bucket <= self.current {
            return;
        }
        let buckets = u64::from(SlidingWindow::TIME_BUCKETS);
        if bucket - self.current >= buckets {
            self.buckets = [Counts::default(); SlidingWindow::TIME_BUCKETS as usize];
            self.counts = Counts::default();
        } else {
            for expired in self.current + 1..=bucket {
                let slot = &mut self.buckets[(expired % buckets) as usize];
                self.counts.remove(*slot);
                *slot = Counts::default();
            }
        }
        self.current = bucket;
    }
}
