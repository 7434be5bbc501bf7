//! Metrics through the `metrics` facade, so any exporter (Prometheus, StatsD,
//! …) can collect them. Every metric name is in this file.
//!
//! The per-job metrics follow OpenTelemetry's messaging conventions in their Prometheus
//! form (dots become underscores, the unit and `_total` are suffixed), with the labels
//! `messaging_system` (`worker_utils`, the spans' [`MESSAGING_SYSTEM`], whatever the
//! backend), `messaging_destination_name` (the queue), `messaging_operation_name` and, on a failed
//! job, `error_type` (the [`ErrorKind`]):
//!
//! | name | type | labels | recorded |
//! |---|---|---|---|
//! | `messaging_process_duration_seconds` | histogram | messaging ones, `error_type` on failure | every job a runner processed (not one shutdown interrupted), once [`enable`] was called |
//! | `messaging_client_consumed_messages_total` | counter | messaging ones (`receive`) | every job a runner reserved, once [`enable`] was called |
//! | `messaging_client_sent_messages_total` | counter | messaging ones (`send`) | every job enqueued (not an idempotent duplicate), once [`enable`] was called |
//!
//! The library's own metrics keep their `worker_utils_` names (none was renamed; the
//! per-action histogram stays, as the conventions have no per-action metric):
//!
//! | name | type | labels | recorded |
//! |---|---|---|---|
//! | `worker_utils_action_attempts_total` | counter | `action` | every attempt inside a `Retry`, once [`enable`] was called |
//! | `worker_utils_action_retries_total` | counter | `action`, `kind` | every retry scheduled |
//! | `worker_utils_action_errors_total` | counter | `action`, `kind` | every failure seen by `ErrorHandling` |
//! | `worker_utils_retry_budget_exhausted_total` | counter | `action` | every retry the budget suppressed |
//! | `worker_utils_action_duration_seconds` | histogram | `action` | every call through `ErrorHandling`, once [`enable`] was called |
//! | `worker_utils_queue_lag_seconds` | gauge | `queue` | sampled every [`QueueSampler::DEFAULT_EVERY`]: how long the work at the head of the queue has waited ([`Queue::oldest_ready_age`](crate::queue::Queue::oldest_ready_age), 0 when none is ready) |
//! | `worker_utils_queue_jobs` | gauge | `queue`, `state` (`ready`, `delayed`, `reserved`, `dead`) | sampled with the lag ([`Queue::counts`](crate::queue::Queue::counts)) |
//! | `worker_utils_queue_errors_total` | counter | `queue`, `operation` | every failed Redis queue operation |
//! | `worker_utils_dead_letters_evicted_total` | counter | | every dead letter a `MemoryQueue` dropped for its cap |
//! | `worker_utils_circuit_state` | gauge | `name` | every breaker at creation and at every transition (0 closed, 1 open, 2 half-open) |
//! | `worker_utils_circuit_transitions_total` | counter | `name`, `from`, `to` | every breaker transition |
//! | `worker_utils_circuit_rejected_total` | counter | `name` | every call an open breaker refused |
//! | `worker_utils_status_published_total` | counter | | every status event published |
//! | `worker_utils_status_broadcast_failures_total` | counter | `reason` | every event or write that could not be delivered |
//! | `worker_utils_status_clients` | gauge | | WebSocket clients connected |
//! | `worker_utils_status_rejected_total` | counter | `reason` | every refused connection |
//! | `worker_utils_status_disconnects_total` | counter | `reason` | every closed client |
//! | `worker_utils_status_lagged_total` | counter | | events a slow client skipped |
//!
//! Failures are always counted. The success-path metrics cost a call into the recorder
//! and, for durations, two clock reads per call or job, so they are off until [`enable`]
//! is called: until then a job pays one relaxed atomic load per metric site. A program
//! that installs a recorder calls it right after, before the first job (handles are
//! registered at first use and cached), and before it creates its circuit breakers (each
//! reports its state once, at creation). Once enabled, each runner also starts a
//! [`QueueSampler`] for its queue. With the `prometheus` feature, the status server can
//! serve all of them at `GET /metrics`
//! (`StatusServerBuilder::metrics`).
//!
//! ```
//! // e.g. after metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?
//! worker_utils::metrics::enable();
//! assert!(worker_utils::metrics::enabled());
//! ```

#[cfg(feature = "prometheus")]
mod prometheus;
mod sampler;
pub(crate) mod switches;

use std::sync::{Arc, OnceLock};

use ::metrics::{Counter, Gauge, Histogram, Label};
use tokio::time::Instant;

use crate::circuit_breaker::CircuitState;
use crate::error::{ActionError, ErrorKind};
use crate::trace::MESSAGING_SYSTEM;
#[cfg(feature = "prometheus")]
pub use metrics_exporter_prometheus::PrometheusHandle;
#[cfg(feature = "prometheus")]
pub use prometheus::install_prometheus;
pub use sampler::QueueSampler;

/// Turns on the success-path metrics: the attempt counter, the duration histograms, the
/// consumed and sent counters, and the runners' queue samplers.
pub fn enable() {
    switches::turn_on_metrics();
}

/// Whether the success-path metrics are recorded.
#[inline]
pub fn enabled() -> bool {
    switches::on().metrics()
}

/// Counts one attempt of `action` in the wrapper's cached counter; the caller checked that
/// metrics are on. Out of line: the success path only tests the switch.
#[inline(never)]
pub(crate) fn count_attempt(cache: &OnceLock<Counter>, action: &'static str) {
    cache.get_or_init(move || attempts_counter(action)).increment(1);
}

fn attempts_counter(action: &'static str) -> Counter {
    ::metrics::counter!("worker_utils_action_attempts_total", "action" => action)
}

/// The name of the per-action duration histogram, which [`Profile`](crate::profile::Profile)
/// reads back.
pub(crate) const ACTION_DURATION: &str = "worker_utils_action_duration_seconds";

pub(crate) fn duration_histogram(action: &'static str) -> Histogram {
    ::metrics::histogram!(ACTION_DURATION, "action" => action)
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

/// The messaging labels of a queue's metrics: system, queue, operation (the spans'
/// attributes, so that metrics and traces of a queue line up).
fn messaging_labels(queue: &str, operation: &'static str) -> Vec<Label> {
    vec![
        Label::from_static_parts("messaging_system", MESSAGING_SYSTEM),
        Label::new("messaging_destination_name", queue.to_owned()),
        Label::from_static_parts("messaging_operation_name", operation),
    ]
}

/// A runner's per-job metrics: jobs consumed and how long each took to process, in
/// handles registered at first use.
#[derive(Debug)]
pub(crate) struct JobMetrics {
    queue: Arc<str>,
    consumed: OnceLock<Counter>,
    /// The duration of the jobs that succeeded; failures register theirs by error type.
    processed: OnceLock<Histogram>,
}

impl JobMetrics {
    pub(crate) fn new(queue: Arc<str>) -> Self {
        Self { queue, consumed: OnceLock::new(), processed: OnceLock::new() }
    }

    /// Counts `jobs` reserved jobs, if metrics are on.
    #[inline]
    pub(crate) fn consumed(&self, jobs: usize) {
        if enabled() && jobs > 0 {
            let counter = self.consumed.get_or_init(|| {
                let labels = messaging_labels(&self.queue, "receive");
                ::metrics::counter!("messaging_client_consumed_messages_total", labels)
            });
            counter.increment(jobs as u64);
        }
    }

    /// The start of a job's processing, if metrics are on (else no clock read).
    #[inline]
    pub(crate) fn start(&self) -> Option<Instant> {
        enabled().then(Instant::now)
    }

    /// Records the processing time of a job started at `started` (from [`Self::start`]),
    /// by its result; a job interrupted by shutdown is not a processing time.
    #[inline]
    pub(crate) fn processed<T>(&self, started: Option<Instant>, result: &Result<T, ActionError>) {
        let Some(started) = started else { return };
        match result {
            Ok(_) => self.processed.get_or_init(|| self.process_histogram(None)).record(started.elapsed()),
            Err(error) if error.is_cancelled() => {}
            Err(error) => self.process_histogram(Some(error.kind())).record(started.elapsed()),
        }
    }

    #[cold]
    fn process_histogram(&self, error: Option<ErrorKind>) -> Histogram {
        let mut labels = messaging_labels(&self.queue, "process");
        if let Some(kind) = error {
            labels.push(Label::from_static_parts("error_type", kind.as_str()));
        }
        ::metrics::histogram!("messaging_process_duration_seconds", labels)
    }
}

/// A queue's count of jobs sent (enqueued), in a handle registered at first use.
#[derive(Debug, Default)]
pub(crate) struct SentCounter(OnceLock<Counter>);

impl SentCounter {
    /// Counts `jobs` jobs added to `queue`, if metrics are on.
    #[inline]
    pub(crate) fn add(&self, queue: &str, jobs: u64) {
        if enabled() && jobs > 0 {
            let counter = self.0.get_or_init(|| {
                let labels = messaging_labels(queue, "send");
                ::metrics::counter!("messaging_client_sent_messages_total", labels)
            });
            counter.increment(jobs);
        }
    }
}

/// The gauge of how long the work at the head of `queue` has waited.
fn queue_lag_gauge(queue: &str) -> Gauge {
    ::metrics::gauge!("worker_utils_queue_lag_seconds", "queue" => queue.to_owned())
}

/// The gauge of how many jobs of `queue` are in `state`.
fn queue_jobs_gauge(queue: &str, state: &'static str) -> Gauge {
    ::metrics::gauge!("worker_utils_queue_jobs", "queue" => queue.to_owned(), "state" => state)
}

/// The gauge of breaker `name`'s state.
pub(crate) fn circuit_state_gauge(name: &'static str) -> Gauge {
    ::metrics::gauge!("worker_utils_circuit_state", "name" => name)
}

/// Records a breaker's transition: its state gauge and its transition count.
pub(crate) fn record_circuit_transition(name: &'static str, from: CircuitState, to: CircuitState) {
    circuit_state_gauge(name).set(to.gauge_value());
    ::metrics::counter!(
        "worker_utils_circuit_transitions_total",
        "name" => name,
        "from" => from.as_str(),
        "to" => to.as_str(),
    )
    .increment(1);
}

pub(crate) fn circuit_rejected_counter(name: &'static str) -> Counter {
    ::metrics::counter!("worker_utils_circuit_rejected_total", "name" => name)
}

/// The counter of status events published, for a broadcaster to keep.
pub(crate) fn status_published_counter() -> Counter {
    ::metrics::counter!("worker_utils_status_published_total")
}

/// Counts an event or a write that could not be delivered, for `reason` (`serialize`,
/// `write`, `write_timeout`, `redis_backlog`).
pub(crate) fn count_broadcast_failure(reason: &'static str) {
    ::metrics::counter!("worker_utils_status_broadcast_failures_total", "reason" => reason).increment(1);
}

/// The name of the gauge of connected WebSocket clients, which a test reads back.
pub(crate) const STATUS_CLIENTS: &str = "worker_utils_status_clients";

/// The gauge of connected WebSocket clients.
pub(crate) fn status_clients_gauge() -> Gauge {
    ::metrics::gauge!(STATUS_CLIENTS)
}

/// Counts a connection the status server refused, for `reason`.
pub(crate) fn count_status_rejected(reason: &'static str) {
    ::metrics::counter!("worker_utils_status_rejected_total", "reason" => reason).increment(1);
}

/// Counts a status client that went away, for `reason`.
pub(crate) fn count_status_disconnect(reason: &'static str) {
    ::metrics::counter!("worker_utils_status_disconnects_total", "reason" => reason).increment(1);
}

/// Counts `events` a slow status client (or feed) skipped.
pub(crate) fn count_status_lagged(events: u64) {
    ::metrics::counter!("worker_utils_status_lagged_total").increment(events);
}

/// Counts a dead letter a `MemoryQueue` dropped for its cap.
pub(crate) fn count_dead_letter_evicted() {
    ::metrics::counter!("worker_utils_dead_letters_evicted_total").increment(1);
}

/// Counts a failed Redis queue operation.
#[cfg(feature = "redis")]
pub(crate) fn count_queue_error(queue: &str, operation: &'static str) {
    ::metrics::counter!("worker_utils_queue_errors_total", "queue" => queue.to_owned(), "operation" => operation)
        .increment(1);
}
