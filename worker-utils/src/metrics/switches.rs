//! The two opt-in switches of the success path, success-path metrics and the `action` /
//! `attempt` spans, packed in one byte so that a wrapper that checks both (the retry loop's
//! attempt counter and traced attempts) pays one load and one branch for the pair.

use std::sync::atomic::{AtomicU8, Ordering};

const METRICS: u8 = 1;
const SPANS: u8 = 2;

/// The process's switches; they only ever go from off to on.
static SWITCHES: Switches = Switches::new();

/// A set of switches that can be turned on, one at a time, and read together.
#[derive(Debug)]
struct Switches(AtomicU8);

impl Switches {
    const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    fn turn_on(&self, switch: u8) {
        self.0.fetch_or(switch, Ordering::Relaxed);
    }

    #[inline(always)]
    fn read(&self) -> On {
        On(self.0.load(Ordering::Relaxed))
    }
}

/// The switches as read once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct On(u8);

impl On {
    /// Whether either switch is on: the one test a wrapper checking both makes while
    /// neither is.
    #[inline(always)]
    pub(crate) fn any(self) -> bool {
        self.0 != 0
    }

    /// Whether the success-path metrics are on.
    #[inline(always)]
    pub(crate) fn metrics(self) -> bool {
        self.0 & METRICS != 0
    }

    /// Whether the `action` and `attempt` spans are on.
    #[inline(always)]
    pub(crate) fn spans(self) -> bool {
        self.0 & SPANS != 0
    }
}

/// Reads both switches with one relaxed load.
#[inline(always)]
pub(crate) fn on() -> On {
    SWITCHES.read()
}

/// Turns on the success-path metrics.
pub(crate) fn turn_on_metrics() {
    SWITCHES.turn_on(METRICS);
}

/// Turns on the spans.
pub(crate) fn turn_on_spans() {
    SWITCHES.turn_on(SPANS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_start_off() {
        let on = Switches::new().read();
        assert!(!on.any() && !on.metrics() && !on.spans());
    }

    #[test]
    fn each_switch_turns_on_alone_and_stays_on() {
        for (switch, metrics, spans) in [(METRICS, true, false), (SPANS, false, true)] {
            let switches = Switches::new();
            switches.turn_on(switch);
            switches.turn_on(switch);
            let on = switches.read();
            assert_eq!((on.any(), on.metrics(), on.spans()), (true, metrics, spans));
        }
    }

    #[test]
    fn turning_on_one_keeps_the_other() {
        let switches = Switches::new();
        switches.turn_on(METRICS);
        switches.turn_on(SPANS);
        let on = switches.read();
        assert!(on.any() && on.metrics() && on.spans());
    }
}
