//! Metrics through the `metrics` facade, so any exporter (Prometheus, StatsD,
//! …) can collect them.
//!
//! | name | type | labels | recorded |
//! |---|---|---|---|
//! | `worker_utils_action_attempts_total` | counter | `action` | every attempt inside a `Retry`, once [`enable`] was called |
//! | `worker_utils_action_retries_total` | counter | `action`, `kind` | every retry scheduled |
//! | `worker_utils_action_errors_total` | counter | `action`, `kind` | every failure seen by `ErrorHandling` |
//! | `worker_utils_retry_budget_exhausted_total` | counter | `action` | every retry the budget suppressed |
//! | `worker_utils_action_duration_seconds` | histogram | `action` | every call through `ErrorHandling`, once [`enable`] was called |
//! | `worker_utils_circuit_state` | gauge | `name` | every breaker transition (0 closed, 1 open, 2 half-open) |
//! | `worker_utils_circuit_transitions_total` | counter | `name`, `from`, `to` | every breaker transition |
//! | `worker_utils_circuit_rejected_total` | counter | `name` | every call an open breaker refused |
//! | `worker_utils_status_published_total` | counter | | every status event published |
//! | `worker_utils_status_broadcast_failures_total` | counter | `reason` | every event or write that could not be delivered |
//! | `worker_utils_status_clients` | gauge | | WebSocket clients connected |
//! | `worker_utils_status_rejected_total` | counter | `reason` | every refused connection |
//! | `worker_utils_status_disconnects_total` | counter | `reason` | every closed client |
//! | `worker_utils_status_lagged_total` | counter | | events a slow client skipped |
//!
//! Failures are always counted. The two success-path metrics cost a call into the
//! recorder and two clock reads per call, so they are off until [`enable`] is called; a
//! program that installs a recorder calls it right after, before the first job (handles
//! are registered at first use and cached in the wrapper).
//!
//! ```
//! // e.g. after metrics_exporter_prometheus::PrometheusBuilder::new().install()?
//! worker_utils::metrics::enable();
//! assert!(worker_utils::metrics::enabled());
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::ErrorKind;

static SUCCESS_PATH: AtomicBool = AtomicBool::new(false);

/// Turns on the success-path metrics: the attempt counter and the duration histogram.
pub fn enable() {
    SUCCESS_PATH.store(true, Ordering::Relaxed);
}

/// Whether the success-path metrics are recorded.
#[inline]
pub fn enabled() -> bool {
    SUCCESS_PATH.load(Ordering::Relaxed)
}

/// Counts one attempt of `action` in the wrapper's cached counter, if metrics are on.
#[inline]
pub(crate) fn count_attempt(cache: &OnceLock<::metrics::Counter>, action: &'static str) {
    if enabled() {
        cache.get_or_init(move || attempts_counter(action)).increment(1);
    }
}

fn attempts_counter(action: &'static str) -> ::metrics::Counter {
    ::metrics::counter!("worker_utils_action_attempts_total", "action" => action)
}

pub(crate) fn duration_histogram(action: &'static str) -> ::metrics::Histogram {
    ::metrics::histogram!("worker_utils_action_duration_seconds", "action" => action)
}

pub(crate) fn record_retry(action: &'static str, kind: ErrorKind) {
    ::metrics::counter!("worker_utils_action_retries_total", "action" => action, "kind" => kind.as_str())
        .increment(1);
}

pub(crate) fn record_budget_exhausted(action: &'static str) {
    ::metrics::counter!("worker_utils_retry_budget_exhausted_total", "action" => action).increment(1);
}

pub(crate) fn record_error(action: &'static str, kind: ErrorKind) {
    ::metrics::counter!("worker_utils_action_errors_total", "action" => action, "kind" => kind.as_str())
        .increment(1);
}
