use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::{SerializeStruct, Serializer};

use super::Name;
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
    ///
    /// ```
    /// use worker_utils::status::JobStatus;
    /// assert!(JobStatus::Failed.is_terminal());
    /// assert!(!JobStatus::Pending.is_terminal());
    /// ```
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }

    /// The wire name: `PENDING`, `PROCESSING`, `COMPLETED` or `FAILED`.
    ///
    /// ```
    /// use worker_utils::status::JobStatus;
    /// assert_eq!(JobStatus::Completed.as_str(), "COMPLETED");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Processing => "PROCESSING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failure part of a `FAILED` event: the kind and a bounded message.
///
/// ```
/// use worker_utils::{ActionError, ErrorKind};
/// use worker_utils::status::StatusError;
///
/// let err = ActionError::permanent(std::io::Error::other("x".repeat(2000)));
/// let status = StatusError::from_action_error(&err);
/// assert_eq!(status.kind, ErrorKind::Permanent);
/// assert!(status.message.len() <= StatusError::MAX_MESSAGE + '…'.len_utf8());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusError {
    /// The error's kind.
    pub kind: ErrorKind,
    /// The error chain, cut to [`StatusError::MAX_MESSAGE`] bytes (plus a `…` when cut).
    pub message: String,
}

impl StatusError {
    /// The longest message an event carries, in bytes.
    pub const MAX_MESSAGE: usize = 512;

    /// A failure of `kind` with `message`, cut to [`MAX_MESSAGE`](Self::MAX_MESSAGE) bytes.
    ///
    /// ```
    /// use worker_utils::ErrorKind;
    /// use worker_utils::status::StatusError;
    /// let e = StatusError::new(ErrorKind::System, "worker stopped");
    /// assert_eq!(e.message, "worker stopped");
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > Self::MAX_MESSAGE {
            let mut cut = Self::MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Self { kind, message }
    }

    /// The kind and the (bounded) chain of `error`.
    ///
    /// ```
    /// use worker_utils::{ActionError, ErrorKind};
    /// use worker_utils::status::StatusError;
    /// let e = StatusError::from_action_error(&ActionError::transient(std::io::Error::other("reset")));
    /// assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Transient, "reset"));
    /// ```
    pub fn from_action_error(error: &ActionError) -> Self {
        Self::new(error.kind(), error.chain().to_string())
    }
}

/// One change of a job's status, as published to a [`StatusSink`](super::StatusSink).
///
/// On the wire (see `docs/protocol.md`) it is one JSON object with `"type":"status"`, the
/// fields below (those that are `None` left out), and `timestamp` as an RFC 3339 string
/// beside `timestamp_ms`:
///
/// ```
/// use worker_utils::{ActionContext, JobId};
/// use worker_utils::status::{JobStatus, StatusEvent};
///
/// let ctx = ActionContext::builder().job_id(JobId::new(3)).queue("images").build();
/// let mut event = StatusEvent::for_job(&ctx, JobStatus::Processing);
/// event.timestamp_ms = 1_700_000_000_123;
/// assert_eq!(event.job_id, JobId::new(3));
///
/// let json: serde_json::Value = serde_json::to_value(&event).unwrap();
/// assert_eq!(json["type"], "status");
/// assert_eq!(json["status"], "PROCESSING");
/// assert_eq!(json["timestamp"], "2023-11-14T22:13:20.123Z");
/// assert!(json.get("error").is_none()); // not set: not sent
///
/// // And back: clients in Rust can parse what the server sends.
/// let back: StatusEvent = serde_json::from_value(json).unwrap();
/// assert_eq!(back, event);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct StatusEvent {
    /// Sequence number, assigned by the broadcaster when published (0 before).
    #[serde(default)]
    pub seq: u64,
    /// The job.
    pub job_id: JobId,
    /// The queue it belongs to.
    pub queue: Name,
    /// The worker instance that reported it (empty for `PENDING`).
    #[serde(default)]
    pub worker: Name,
    /// The new status.
    pub status: JobStatus,
    /// The status before, if known.
    #[serde(default)]
    pub previous: Option<JobStatus>,
    /// The delivery attempt (1 on first delivery).
    pub attempt: u32,
    /// When it happened, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// How long the job ran, on terminal events.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// On the `PENDING` of a failed job sent back for redelivery: when delivery `attempt`
    /// may start, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub due_at_ms: Option<u64>,
    /// Why it failed: on `FAILED`, and on the `PENDING` of a redelivery (the error that
    /// sent it back).
    #[serde(default)]
    pub error: Option<StatusError>,
}

impl StatusEvent {
    /// An event for `job_id` in `queue`, stamped now.
    ///
    /// ```
    /// use worker_utils::JobId;
    /// use worker_utils::status::{JobStatus, StatusEvent};
    /// let event = StatusEvent::new(JobId::new(1), "mail", JobStatus::Pending);
    /// assert_eq!((event.seq, event.attempt), (0, 1));
    /// ```
    pub fn new(job_id: JobId, queue: impl Into<Name>, status: JobStatus) -> Self {
        Self::from_worker(job_id, queue.into(), Name::default(), status, unix_now_ms())
    }

    /// An event reported by `worker`, stamped `timestamp_ms`; takes the names as they are,
    /// so a runner that shares its (interned) names with its events allocates nothing here.
    pub(crate) fn from_worker(
        job_id: JobId,
        queue: Name,
        worker: Name,
        status: JobStatus,
        timestamp_ms: u64,
    ) -> Self {
        Self {
            seq: 0,
            job_id,
            queue,
            worker,
            status,
            previous: None,
            attempt: 1,
            timestamp_ms,
            duration_ms: None,
            due_at_ms: None,
            error: None,
        }
    }

    /// An event for the job `ctx` runs for (job id 0 for a detached context); the attempt is
    /// the context's delivery count.
    ///
    /// ```
    /// use worker_utils::{ActionContext, JobId};
    /// use worker_utils::status::{JobStatus, StatusEvent};
    /// let ctx = ActionContext::builder().job_id(JobId::new(5)).worker_id("w-1").delivery(2).build();
    /// let event = StatusEvent::for_job(&ctx, JobStatus::Processing);
    /// assert_eq!((&*event.worker, event.attempt), ("w-1", 2));
    /// ```
    pub fn for_job(ctx: &ActionContext, status: JobStatus) -> Self {
        let scope = ctx.scope();
        let job_id = ctx.job_id().unwrap_or(JobId::new(0));
        let mut event = Self::from_worker(
            job_id,
            scope.queue_name().clone(),
            scope.worker_name().clone(),
            status,
            unix_now_ms(),
        );
        event.attempt = ctx.delivery();
        event
    }

    /// Sets the previous status.
    ///
    /// ```
    /// use worker_utils::JobId;
    /// use worker_utils::status::{JobStatus, StatusEvent};
    /// let e = StatusEvent::new(JobId::new(1), "q", JobStatus::Processing).previous(JobStatus::Pending);
    /// assert_eq!(e.previous, Some(JobStatus::Pending));
    /// ```
    pub fn previous(mut self, previous: JobStatus) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Sets how long the job ran.
    ///
    /// ```
    /// use std::time::Duration;
    /// use worker_utils::JobId;
    /// use worker_utils::status::{JobStatus, StatusEvent};
    /// let e = StatusEvent::new(JobId::new(1), "q", JobStatus::Completed).duration(Duration::from_millis(1500));
    /// assert_eq!(e.duration_ms, Some(1500));
    /// ```
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration_ms = Some(crate::timeout::millis(duration));
        self
    }

    /// Sets the failure from an [`ActionError`] (kind and bounded message).
    ///
    /// ```
    /// use worker_utils::{ActionError, ErrorKind, JobId};
    /// use worker_utils::status::{JobStatus, StatusEvent};
    /// let err = ActionError::permanent(std::io::Error::other("bad input"));
    /// let e = StatusEvent::new(JobId::new(1), "q", JobStatus::Failed).error(&err);
    /// assert_eq!(e.error.unwrap().kind, ErrorKind::Permanent);
    /// ```
    pub fn error(mut self, error: &ActionError) -> Self {
        self.error = Some(StatusError::from_action_error(error));
        self
    }
}

impl serde::Serialize for StatusEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("StatusEvent", 13)?;
        s.serialize_field("type", "status")?;
        s.serialize_field("seq", &self.seq)?;
        s.serialize_field("job_id", &self.job_id)?;
        s.serialize_field("queue", &*self.queue)?;
        s.serialize_field("worker", &*self.worker)?;
        s.serialize_field("status", &self.status)?;
        s.serialize_field("attempt", &self.attempt)?;
        s.serialize_field("timestamp", &Rfc3339(self.timestamp_ms))?;
        s.serialize_field("timestamp_ms", &self.timestamp_ms)?;
        self.serialize_set_options(&mut s)?;
        s.end()
    }
}

impl StatusEvent {
    /// Writes `previous`, `duration_ms`, `due_at_ms` and `error` where they are set; both
    /// wire forms leave the others out. (Sent as `null`, they made the usual event a
    /// third larger, 65 of its 252 bytes: what every client reads, and the status server
    /// delivered 0.88× what a raw fan-out of as many messages does, against 1.0× without.)
    fn serialize_set_options<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
        fn field<S: SerializeStruct, T: serde::Serialize>(
            s: &mut S,
            key: &'static str,
            value: Option<&T>,
        ) -> Result<(), S::Error> {
            match value {
                Some(value) => s.serialize_field(key, value),
                None => s.skip_field(key),
            }
        }
        field(s, "previous", self.previous.as_ref())?;
        field(s, "duration_ms", self.duration_ms.as_ref())?;
        field(s, "due_at_ms", self.due_at_ms.as_ref())?;
        field(s, "error", self.error.as_ref())
    }
}

/// An event as stored between processes (the Redis status stream): like the wire form,
/// only the fields that are set, and besides no `type`, no `seq` (the reader's broadcaster
/// numbers events), no empty `worker` and no RFC 3339 copy of the time: about two thirds
/// of the wire form's size, which is what a busy stream's writers and readers spend their
/// time on. It deserializes as a [`StatusEvent`].
#[cfg(feature = "redis")]
pub(crate) struct Compact<'a>(pub(crate) &'a StatusEvent);

#[cfg(feature = "redis")]
impl serde::Serialize for Compact<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut s = serializer.serialize_struct("StatusEvent", 11)?;
        s.serialize_field("job_id", &event.job_id)?;
        s.serialize_field("queue", &*event.queue)?;
        if !event.worker.is_empty() {
            s.serialize_field("worker", &*event.worker)?;
        }
        s.serialize_field("status", &event.status)?;
        s.serialize_field("attempt", &event.attempt)?;
        s.serialize_field("timestamp_ms", &event.timestamp_ms)?;
        event.serialize_set_options(&mut s)?;
        s.end()
    }
}

/// Milliseconds since the Unix epoch, displayed as RFC 3339 in UTC with milliseconds.
struct Rfc3339(u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 % 1000;
        let secs = self.0 / 1000;
        let (hour, minute, second) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let (year, month, day) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(i64::MAX));
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both fit: day is 1..=31 and month 1..=12 by construction.
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// Now, in milliseconds since the Unix epoch (0 for a clock set before 1970).
pub(crate) fn unix_now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, crate::timeout::millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(Rfc3339(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Rfc3339(951_782_400_000).to_string(), "2000-02-29T00:00:00.000Z");
        assert_eq!(Rfc3339(1_709_251_199_999).to_string(), "2024-02-29T23:59:59.999Z");
        assert_eq!(Rfc3339(4_102_444_800_000).to_string(), "2100-01-01T00:00:00.000Z");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn the_compact_form_reads_back_as_the_same_event() {
        let mut event =
            StatusEvent::new(JobId::new(9), "q", JobStatus::Pending).previous(JobStatus::Processing);
        event.due_at_ms = Some(1_700_000_000_000);
        event.attempt = 2;
        let compact = serde_json::to_string(&Compact(&event)).unwrap();
        let full = serde_json::to_string(&event).unwrap();
        assert!(compact.len() * 4 < full.len() * 3, "{compact} against {full}");
        assert_eq!(serde_json::from_str::<StatusEvent>(&compact).unwrap(), event);
    }

    #[test]
    fn message_is_cut_on_a_char_boundary() {
        let e = StatusError::new(ErrorKind::System, "é".repeat(600));
        assert!(e.message.ends_with('…'));
        assert_eq!(e.message.len(), StatusError::MAX_MESSAGE + '…'.len_utf8());
    }
}
