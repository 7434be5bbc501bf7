//! The wall clock as a slot reads it for its status events: once per job, not twice, and
//! from the CPU's counter rather than the OS clock.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The slot's last reading of the wall clock, in Unix milliseconds.
///
/// A job's events need its start (PROCESSING, and the duration) and its end (the outcome).
/// The reading that ends one job also starts the next one when the slot goes straight on to
/// it: in between it only records the outcome and builds the next job's context, far less
/// than the events' millisecond resolution. That saves one clock read per job, which with
/// status on was the largest single cost of a no-op job. Whatever waits in between (a
/// reserve, a settle call) must [`forget`](Self::forget) the reading.
#[derive(Debug, Default)]
pub(super) struct SlotClock {
    /// Made at the first reading: a slot without status never reads the clock.
    wall: Option<WallClock>,
    last_end: Option<u64>,
}

impl SlotClock {
    /// The start of a job: the end of the job before it, if the slot went straight on, or now.
    pub(super) fn start(&mut self) -> u64 {
        match self.last_end.take() {
            Some(end) => end,
            None => self.now(),
        }
    }

    /// The end of a job: now, kept as the start of the next job.
    pub(super) fn end(&mut self) -> u64 {
        let now = self.now();
        self.last_end = Some(now);
        now
    }

    fn now(&mut self) -> u64 {
        self.wall.get_or_insert_with(WallClock::default).now_ms()
    }

    /// Drops the kept reading: the slot waited since.
    pub(super) fn forget(&mut self) {
        self.last_end = None;
    }
}

/// The wall clock in Unix milliseconds, read from the CPU's counter (`quanta`) since a
/// reading of the OS clock, which it takes again every [`REANCHOR_NS`].
///
/// `SystemTime::now` cost 50–80 ns here, the largest cost of a no-op job with status on; the
/// counter costs about 10 ns. Between anchors the clock can only drift from the OS clock by
/// the counter's calibration error and by what NTP slews the OS clock (at most 500 ppm), so
/// less than a millisecond; an anchor catches up with a step of the OS clock too. Where the
/// counter is unusable `quanta` reads the OS's monotonic clock instead, still correct.
#[derive(Debug)]
struct WallClock {
    counter: quanta::Clock,
    /// The counter at the anchor.
    anchor_raw: u64,
    /// The OS clock at the anchor, in Unix nanoseconds.
    anchor_unix_ns: u64,
}

/// How long a [`WallClock`] counts from one reading of the OS clock: at 500 ppm of slew,
/// 0.5 ms of drift at most; one OS clock read a second per slot costs nothing.
const REANCHOR_NS: u64 = 1_000_000_000;

impl Default for WallClock {
    fn default() -> Self {
        // One counter for the process: the first one calibrates it against the OS clock (a
        // busy loop of a millisecond or so, once per process), which no slot should repeat.
        static COUNTER: OnceLock<quanta::Clock> = OnceLock::new();
        Self::new(COUNTER.get_or_init(quanta::Clock::new).clone())
    }
}

impl WallClock {
    /// A clock on `counter`, anchored now.
    fn new(counter: quanta::Clock) -> Self {
        let mut clock = Self { counter, anchor_raw: 0, anchor_unix_ns: 0 };
        clock.anchor();
        clock
    }

    /// Now, in Unix milliseconds.
    fn now_ms(&mut self) -> u64 {
        // 0 for a counter that went back (another core's, slightly behind): the anchor's time.
        let since = self.counter.delta_as_nanos(self.anchor_raw, self.counter.raw());
        if since >= REANCHOR_NS {
            self.anchor();
            return self.anchor_unix_ns / 1_000_000;
        }
        (self.anchor_unix_ns + since) / 1_000_000
    }

    /// Reads the OS clock and the counter together.
    fn anchor(&mut self) {
        self.anchor_raw = self.counter.raw();
        // Nanoseconds, not milliseconds: a truncated anchor would run up to 1 ms late.
        self.anchor_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_job_starts_the_next_one_once() {
        let mut clock = SlotClock::default();
        let first_start = clock.start();
        let end = clock.end();
        assert!(end >= first_start);
        assert_eq!(clock.start(), end, "the next job starts when the last one ended");
        assert_eq!(clock.last_end, None, "a reading starts one job only");
        assert!(clock.start() >= end);
    }

    #[test]
    fn a_forgotten_reading_is_not_reused() {
        let mut clock = SlotClock { last_end: Some(0), ..SlotClock::default() };
        clock.forget();
        assert!(clock.start() > 0, "read afresh, not the forgotten 0");
        let mut clock = SlotClock { last_end: Some(0), ..SlotClock::default() };
        assert_eq!(clock.start(), 0);
    }

    fn unix_now_ns() -> u64 {
        u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap()
    }

    #[test]
    fn the_wall_clock_counts_from_its_anchor() {
        let (counter, mock) = quanta::Clock::mock();
        mock.increment(7);
        let mut clock = WallClock::new(counter);
        assert_eq!(clock.anchor_raw, 7);
        clock.anchor_unix_ns = 5_000_400_000;
        mock.increment(2_599_999);
        assert_eq!(clock.now_ms(), 5_002, "5 000.4 ms + 2.599 999 ms");
        mock.increment(1);
        assert_eq!(clock.now_ms(), 5_003);
    }

    #[test]
    fn a_counter_behind_the_anchor_reads_as_the_anchor() {
        let (counter, mock) = quanta::Clock::mock();
        mock.increment(1_000);
        let mut clock = WallClock::new(counter);
        clock.anchor_unix_ns = 9_000_000;
        mock.decrement(10);
        assert_eq!(clock.now_ms(), 9);
    }

    #[test]
    fn the_wall_clock_reads_the_os_clock_again_every_second() {
        let (counter, mock) = quanta::Clock::mock();
        let mut clock = WallClock::new(counter);
        clock.anchor_unix_ns = 0; // as if the OS clock had since been stepped forward
        mock.increment(REANCHOR_NS - 1);
        assert_eq!(clock.now_ms(), 999, "still counting from the anchor");
        mock.increment(1);
        let before = unix_now_ns() / 1_000_000;
        let now = clock.now_ms();
        assert!(now >= before && now <= unix_now_ns() / 1_000_000, "anchored again: {now} vs {before}");
        assert_eq!(clock.anchor_raw, REANCHOR_NS);
    }

    #[test]
    fn the_counter_keeps_to_the_os_clock() {
        let mut clock = WallClock::default();
        for _ in 0..1_000 {
            let before = unix_now_ns() / 1_000_000;
            let now = clock.now_ms();
            let after = unix_now_ns() / 1_000_000;
            // Calibration error and slew over less than a second: well under a millisecond.
            assert!(before.saturating_sub(1) <= now && now <= after + 1, "{before} <= {now} <= {after}");
        }
    }
}
