use std::time::{SystemTime, UNIX_EPOCH};

use crate::context::JobId;
use crate::error::{ActionError, ErrorKind};
use crate::retry::AttemptsExhausted;

/// Why a job failed, as kept with its dead letter: the final error and every attempt's.
///
/// ```
/// use worker_utils::{ActionError, ErrorKind};
/// use worker_utils::queue::Failure;
///
/// let failure = Failure::from_error(&ActionError::permanent(std::io::Error::other("bad input")));
/// assert_eq!(failure.kind, ErrorKind::Permanent);
/// assert_eq!(failure.attempts.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The final error's kind.
    pub kind: ErrorKind,
    /// The action that failed last.
    pub action: String,
    /// The final error's whole message chain.
    pub message: String,
    /// Every attempt's error, oldest first (one entry when the action was not retried).
    pub attempts: Vec<AttemptFailure>,
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
    /// The record of `error`, with the attempt history a retry loop kept in it.
    pub fn from_error(error: &ActionError) -> Self {
        let record = |e: &ActionError| AttemptFailure {
            attempt: e.attempt(),
            kind: e.kind(),
            message: e.chain().to_string(),
        };
        let attempts = match error.downcast_ref::<AttemptsExhausted>() {
            Some(exhausted) => exhausted.attempts().iter().map(record).collect(),
            None => vec![record(error)],
        };
        let failed_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            kind: error.kind(),
            action: error.action().to_owned(),
            message: error.chain().to_string(),
            attempts,
            failed_at_ms,
        }
    }
}

/// A job that failed for good, with its failure record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter<J> {
    /// The id it had when it failed.
    pub id: JobId,
    /// The payload, as it was enqueued.
    pub job: J,
    /// How many times it had been handed out.
    pub deliveries: u32,
    /// Why it failed.
    pub failure: Failure,
}
