//! Metrics through the [`metrics`](::metrics) facade, so any exporter (Prometheus, StatsD,
//! …) can collect them.
//!
//! | name | type | labels | recorded |
//! |---|---|---|---|
//! | `worker_utils_action_attempts_total` | counter | `action` | every attempt inside a `Retry` |
//! | `worker_utils_action_retries_total` | counter | `action`, `kind` | every retry scheduled |
//! | `worker_utils_action_errors_total` | counter | `action`, `kind` | every failure seen by `ErrorHandling` |
//! | `worker_utils_action_duration_seconds` | histogram | `action` | every call through `ErrorHandling`, once [`enable_timing`] was called |
//!
//! Counters on the success path are registered once per wrapper and cached, so with no
//! recorder installed they cost a branch. Timing a call costs two clock reads, so the
//! duration histogram is off until [`enable_timing`] is called (after installing a
//! recorder). Install the recorder before the first job: handles are cached at first use.
//!
//! ```
//! worker_utils::metrics::enable_timing();
//! assert!(worker_utils::metrics::timing_enabled());
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::ErrorKind;

static TIMING: AtomicBool = AtomicBool::new(false);

/// Turns on the action duration histogram.
pub fn enable_timing() {
    TIMING.store(true, Ordering::Relaxed);
}

/// Whether the action duration histogram is recorded.
pub fn timing_enabled() -> bool {
    TIMING.load(Ordering::Relaxed)
}

pub(crate) fn attempts_counter(action: &'static str) -> ::metrics::Counter {
    ::metrics::counter!("worker_utils_action_attempts_total", "action" => action)
}

pub(crate) fn duration_histogram(action: &'static str) -> ::metrics::Histogram {
    ::metrics::histogram!("worker_utils_action_duration_seconds", "action" => action)
}

pub(crate) fn record_retry(action: &'static str, kind: ErrorKind) {
    ::metrics::counter!("worker_utils_action_retries_total", "action" => action, "kind" => kind.as_str())
        .increment(1);
}

pub(crate) fn record_error(action: &'static str, kind: ErrorKind) {
    ::metrics::counter!("worker_utils_action_errors_total", "action" => action, "kind" => kind.as_str())
        .increment(1);
}
