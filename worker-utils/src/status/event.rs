use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::context::{ActionContext, JobId};
use crate::error::{ActionError, ErrorKind};

/// Where a job is in its life.
///
/// ```
/// use worker_utils::status::JobStatus;
/// assert!(JobStatus::Completed.is_terminal());
/// assert_eq!(serde_json::to_string(&JobStatus::Processing).unwrap(), "\"PROCESSING\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Queued, not yet picked up.
    Pending,
    /// A worker is running it.
    Processing,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
}

impl JobStatus {
    /// `COMPLETED` and `FAILED` end a job's life.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// The failure part of a `FAILED` event: the kind and a bounded message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusError {
    /// The error's kind.
    pub kind: ErrorKind,
    /// The error chain, cut to [`StatusError::MAX_MESSAGE`] bytes.
    pub message: String,
}

impl StatusError {
    /// The longest message an event carries, in bytes.
    pub const MAX_MESSAGE: usize = 512;

    /// The kind and the (bounded) chain of `error`.
    pub fn from_action_error(error: &ActionError) -> Self {
        let mut message = error.chain().to_string();
        if message.len() > Self::MAX_MESSAGE {
            let mut cut = Self::MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Self { kind: error.kind(), message }
    }
}

/// One change of a job's status, as published to a [`StatusSink`](super::StatusSink).
///
/// ```
/// use worker_utils::{ActionContext, JobId};
/// use worker_utils::status::{JobStatus, StatusEvent};
///
/// let ctx = ActionContext::builder().job_id(JobId::new(3)).queue("images").build();
/// let event = StatusEvent::for_job(&ctx, JobStatus::Processing);
/// assert_eq!(event.job_id, JobId::new(3));
/// assert_eq!(&*event.queue, "images");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusEvent {
    /// Sequence number, assigned by the broadcaster when published (0 before).
    pub seq: u64,
    /// The job.
    pub job_id: JobId,
    /// The queue it belongs to.
    pub queue: Arc<str>,
    /// The worker instance that reported it (empty for `PENDING`).
    pub worker: Arc<str>,
    /// The new status.
    pub status: JobStatus,
    /// The status before, if known.
    pub previous: Option<JobStatus>,
    /// The delivery attempt (1 on first delivery).
    pub attempt: u32,
    /// When it happened, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// How long the job ran, on terminal events.
    pub duration_ms: Option<u64>,
    /// Why it failed, on `FAILED`.
    pub error: Option<StatusError>,
}

impl StatusEvent {
    /// An event for `job_id` in `queue`, stamped now.
    pub fn new(job_id: JobId, queue: impl Into<Arc<str>>, status: JobStatus) -> Self {
        Self {
            seq: 0,
            job_id,
            queue: queue.into(),
            worker: Arc::from(""),
            status,
            previous: None,
            attempt: 1,
            timestamp_ms: unix_millis(SystemTime::now()),
            duration_ms: None,
            error: None,
        }
    }

    /// An event for the job `ctx` runs for (job id 0 for a detached context).
    pub fn for_job(ctx: &ActionContext, status: JobStatus) -> Self {
        let mut event = Self::new(ctx.job_id().unwrap_or(JobId::new(0)), ctx.queue(), status);
        event.worker = Arc::from(ctx.worker_id());
        event.attempt = ctx.delivery();
        event
    }

    /// Sets the previous status.
    pub fn previous(mut self, previous: JobStatus) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Sets how long the job ran.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration_ms = Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the failure.
    pub fn error(mut self, error: &ActionError) -> Self {
        self.error = Some(StatusError::from_action_error(error));
        self
    }
}

fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
