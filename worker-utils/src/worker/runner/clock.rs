//! The wall clock as a slot reads it for its status events: once per job, not twice.

use crate::status::unix_now_ms;

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
    last_end: Option<u64>,
}

impl SlotClock {
    /// The start of a job: the end of the job before it, if the slot went straight on, or now.
    pub(super) fn start(&mut self) -> u64 {
        self.last_end.take().unwrap_or_else(unix_now_ms)
    }

    /// The end of a job: now, kept as the start of the next job.
    pub(super) fn end(&mut self) -> u64 {
        let now = unix_now_ms();
        self.last_end = Some(now);
        now
    }

    /// Drops the kept reading: the slot waited since.
    pub(super) fn forget(&mut self) {
        self.last_end = None;
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
        let mut clock = SlotClock { last_end: Some(0) };
        clock.forget();
        assert!(clock.start() > 0, "read afresh, not the forgotten 0");
        let mut clock = SlotClock { last_end: Some(0) };
        assert_eq!(clock.start(), 0);
    }
}
