use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::context::JobId;
use crate::error::{ActionError, ErrorKind};
use crate::retry::{AttemptsExhausted, GiveUpReason};
use crate::trace::TraceContext;

/// Why one delivery of a job failed: its final error and every attempt's. A job keeps one
/// per failed delivery, and its dead letter shows them all.
///
/// ```
/// use worker_utils::{ActionError, ErrorKind};
/// use worker_utils::queue::Failure;
///
/// let failure = Failure::from_error(&ActionError::permanent(std::io::Error::other("bad input")), 1);
/// assert_eq!(failure.kind, ErrorKind::Permanent);
/// assert_eq!(failure.attempts.len(), 1);
/// assert_eq!((failure.delivery, failure.gave_up), (1, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The delivery that failed, from 1.
    pub delivery: u32,
    /// The final error's kind.
    pub kind: ErrorKind,
    /// The action that failed last.
    pub action: String,
    /// The final error's whole message chain.
    pub message: String,
    /// Every attempt's error, oldest first (one entry when the action was not retried).
    pub attempts: Vec<AttemptFailure>,
    /// Why the action's retry loop stopped, when it retried or was refused a retry (a
    /// `budget_exhausted` here means the retry was suppressed, not that the job is broken).
    #[serde(default)]
    pub gave_up: Option<GiveUpReason>,
    /// When it failed, in milliseconds since the Unix epoch.
    pub failed_at_ms: u64,
}

/// One failed attempt inside a [`Failure`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttemptFailure {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// Its error's kind.
    pub kind: ErrorKind,
    /// Its error's message chain.
    pub message: String,
}

impl Failure {
    /// The record of delivery `delivery` failing with `error`, with the attempt history a
    /// retry loop kept in it.
    pub fn from_error(error: &ActionError, delivery: u32) -> Self {
        let record = |e: &ActionError| AttemptFailure {
            attempt: e.attempt(),
            kind: e.kind(),
            message: e.chain().to_string(),
        };
        let exhausted = error.downcast_ref::<AttemptsExhausted>();
        let attempts = match exhausted {
            Some(exhausted) => exhausted.attempts().iter().map(record).collect(),
            None => vec![record(error)],
        };
        let failed_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, crate::timeout::millis);
        Self {
            delivery,
            kind: error.kind(),
            action: error.action().to_owned(),
            message: error.chain().to_string(),
            attempts,
            gave_up: exhausted.map(AttemptsExhausted::reason),
            failed_at_ms,
        }
    }
}

/// A job that failed for good, with the record of every failed delivery.
///
/// ```
/// use worker_utils::{ActionError, JobId};
/// use worker_utils::queue::{DeadLetter, Failure};
///
/// let flaky = ActionError::transient(std::io::Error::other("reset"));
/// let letter = DeadLetter {
///     id: JobId::new(7),
///     job: "payload",
///     deliveries: 2,
///     earlier: vec![Failure::from_error(&flaky, 1)],
///     failure: Failure::from_error(&flaky, 2),
///     trace: None,
/// };
/// let deliveries: Vec<u32> = letter.history().map(|f| f.delivery).collect();
/// assert_eq!(deliveries, [1, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter<J> {
    /// The id it had when it failed.
    pub id: JobId,
    /// The payload, as it was enqueued.
    pub job: J,
    /// How many times it had been handed out.
    pub deliveries: u32,
    /// The failures of the deliveries before the last, oldest first (empty when the first
    /// failure was final).
    #[serde(default)]
    pub earlier: Vec<Failure>,
    /// Why the last delivery failed: the reason it is a dead letter.
    pub failure: Failure,
    /// The trace context of the span that enqueued it, if one was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Arc<TraceContext>>,
}

impl<J> DeadLetter<J> {
    /// Every failed delivery, oldest first, the final one last.
    pub fn history(&self) -> impl Iterator<Item = &Failure> {
        self.earlier.iter().chain(std::iter::once(&self.failure))
    }
}
