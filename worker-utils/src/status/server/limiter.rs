//! The per-client limit on messages a client sends, and saturating deadline arithmetic.

use std::time::Duration;

use tokio::time::Instant;

/// Messages a client may send back to back before the refill rate applies.
pub(crate) const BURST: u32 = 20;
/// A client earns one more message this often (5 per second).
pub(crate) const REFILL_EVERY: Duration = Duration::from_millis(200);
/// After a `subscribe`, the client's next message is read no sooner than this: a client gets
/// at most 20 snapshots a second, and one that keeps asking runs out of messages (20 back to
/// back, then 15 a second more than it earns) about 1.3 s after it started.
pub(crate) const SUBSCRIBE_PAUSE: Duration = Duration::from_millis(50);

/// A token bucket over a caller-supplied clock: `burst` messages at once, then one per
/// `every`. Kept as the time at which the bucket would be full again (GCRA), so it is one
/// instant, exact, and tested with tokio's paused clock.
#[derive(Debug, Clone)]
pub(crate) struct MessageLimiter {
    every: Duration,
    /// How far ahead of `now` `full_at` may be and still admit a message: `(burst - 1) × every`.
    slack: Duration,
    /// When the bucket is full again; at or before `now` means it is full.
    full_at: Instant,
}

impl MessageLimiter {
    /// A full bucket of `burst` messages (at least 1), refilled one per `every`.
    pub(crate) fn new(burst: u32, every: Duration, now: Instant) -> Self {
        Self { every, slack: every.saturating_mul(burst.max(1) - 1), full_at: now }
    }

    /// The limits every status client gets: [`BURST`] and [`REFILL_EVERY`].
    pub(crate) fn for_client(now: Instant) -> Self {
        Self::new(BURST, REFILL_EVERY, now)
    }

    /// Takes one message's token; `false` (and nothing taken) if the bucket is empty.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let start = self.full_at.max(now);
        if start.saturating_duration_since(now) > self.slack {
            return false;
        }
        self.full_at = later(start, self.every);
        true
    }
}

/// About 30 years: longer than any setting means in practice, within any clock's range.
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `now + by`, or as far ahead as the clock can count if that overflows: a `Duration::MAX`
/// setting means "never", not a panic.
pub(crate) fn later(now: Instant, by: Duration) -> Instant {
    if let Some(at) = now.checked_add(by) {
        return at;
    }
    let mut ahead = FAR;
    while !ahead.is_zero() {
        if let Some(at) = now.checked_add(ahead) {
            return at;
        }
        ahead /= 2;
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(limiter: &mut MessageLimiter, n: usize) -> usize {
        (0..n).filter(|_| limiter.try_take(Instant::now())).count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_message_per_refill() {
        let mut limiter = MessageLimiter::new(20, Duration::from_millis(200), Instant::now());
        assert_eq!(take(&mut limiter, 25), 20, "the burst, and not one more");

        tokio::time::advance(Duration::from_millis(199)).await;
        assert!(!limiter.try_take(Instant::now()), "no token before the refill");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(limiter.try_take(Instant::now()), "one token per 200 ms");
        assert!(!limiter.try_take(Instant::now()));

        // A steady 5 a second is never refused.
        for _ in 0..50 {
            tokio::time::advance(Duration::from_millis(200)).await;
            assert!(limiter.try_take(Instant::now()));
        }
        // A quiet second refills 5, a long pause the whole burst and no more.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(take(&mut limiter, 10), 5);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(take(&mut limiter, 100), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_paced_like_a_flooding_subscriber_runs_out_after_about_a_second() {
        let mut limiter = MessageLimiter::for_client(Instant::now());
        let start = Instant::now();
        let mut served = 0;
        while limiter.try_take(Instant::now()) {
            served += 1;
            assert!(served < 1000);
            tokio::time::advance(SUBSCRIBE_PAUSE).await;
        }
        // 50 ms per message against 200 ms per token: 20 + 20 × 50/150 ≈ 26 messages.
        assert_eq!(served, 26);
        assert_eq!(start.elapsed(), SUBSCRIBE_PAUSE * 26);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_one_and_huge_intervals_do_not_overflow() {
        let mut limiter = MessageLimiter::new(1, Duration::MAX, Instant::now());
        assert!(limiter.try_take(Instant::now()));
        assert!(!limiter.try_take(Instant::now()));
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > later(now, Duration::from_secs(3600)));
        assert_eq!(later(now, Duration::from_secs(1)), now + Duration::from_secs(1));
        let mut zero = MessageLimiter::new(0, Duration::from_secs(1), now);
        assert_eq!(take(&mut zero, 3), 1, "a burst of 0 is a burst of 1");
    }
}
