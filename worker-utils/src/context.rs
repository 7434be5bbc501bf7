//! The per-job context every action receives: who is running what, for how long.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::status::Name;

/// Identifies one job across enqueue, retries, status events and dead letters.
///
/// ```
/// use worker_utils::JobId;
/// assert_eq!(JobId::new(7).to_string(), "7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct JobId(u64);

impl JobId {
    /// Wraps a raw id.
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything an action may want to know about the job it runs for.
///
/// A context is built once per job and passed by reference to every step, so it is as
/// cheap to hand around as a pointer. The retry wrapper updates [`attempt`](Self::attempt)
/// in place (an atomic store) instead of cloning the context per attempt.
///
/// ```
/// use worker_utils::{ActionContext, JobId};
/// let ctx = ActionContext::builder()
///     .job_id(JobId::new(42))
///     .queue("thumbnails")
///     .worker_id("thumbnails-1")
///     .build();
/// assert_eq!(ctx.job_id(), Some(JobId::new(42)));
/// assert_eq!(ctx.queue(), "thumbnails");
/// assert_eq!(ctx.attempt(), 1);
/// ```
pub struct ActionContext {
    job_id: Option<JobId>,
    scope: Arc<Scope>,
    delivery: u32,
    attempt: AtomicU32,
    retries: AtomicU32,
    deadline: Option<Instant>,
    span: tracing::Span,
}

/// What all jobs of one worker slot share. A runner slot keeps its own `Arc` of it, so
/// building a job's context bumps a reference count no other slot touches.
#[derive(Debug)]
pub(crate) struct Scope {
    queue: Name,
    worker_id: Name,
    cancellation: CancellationToken,
}

impl Scope {
    pub(crate) fn new(queue: Name, worker_id: Name, cancellation: CancellationToken) -> Arc<Self> {
        Arc::new(Self { queue, worker_id, cancellation })
    }

    /// The queue name, to share with the slot's status events.
    pub(crate) fn queue_name(&self) -> &Name {
        &self.queue
    }

    /// The worker id, to share with the slot's status events.
    pub(crate) fn worker_name(&self) -> &Name {
        &self.worker_id
    }
}

impl ActionContext {
    /// A job's context in a runner slot's `scope`.
    pub(crate) fn in_scope(scope: Arc<Scope>, job_id: JobId, delivery: u32, span: tracing::Span) -> Self {
        Self {
            job_id: Some(job_id),
            scope,
            delivery,
            attempt: AtomicU32::new(1),
            retries: AtomicU32::new(0),
            deadline: None,
            span,
        }
    }

    /// Starts building a context.
    pub fn builder() -> ActionContextBuilder {
        ActionContextBuilder::default()
    }

    /// A context for a call made outside any job (tests, ad-hoc calls): no job id, empty
    /// queue and worker names, no deadline, a fresh cancellation token.
    pub fn detached() -> Self {
        Self::builder().build()
    }

    /// The job this call runs for, if any.
    #[inline]
    pub fn job_id(&self) -> Option<JobId> {
        self.job_id
    }

    /// The queue the job came from.
    #[inline]
    pub fn queue(&self) -> &str {
        &self.scope.queue
    }

    /// The worker instance running the job.
    #[inline]
    pub fn worker_id(&self) -> &str {
        &self.scope.worker_id
    }

    /// The scope's names, for the job's status events to share.
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// How many times the queue has handed this job out (1 on first delivery).
    #[inline]
    pub fn delivery(&self) -> u32 {
        self.delivery
    }

    /// The current attempt of the innermost retry loop, counting from 1.
    #[inline]
    pub fn attempt(&self) -> u32 {
        self.attempt.load(Ordering::Relaxed)
    }

    /// Records which attempt is running; the retry wrapper calls this.
    #[inline]
    pub fn set_attempt(&self, attempt: u32) {
        self.attempt.store(attempt, Ordering::Relaxed);
    }

    /// How many retries all retry loops of this job have scheduled so far.
    #[inline]
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Counts one scheduled retry; the retry wrapper calls this.
    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The instant by which the job must be finished, if it has one. The retry wrapper
    /// does not start a backoff sleep that would end past it.
    #[inline]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The token that cancels this job (worker shutdown, a client's request). Retry loops
    /// stop at once when it fires, also in the middle of a backoff sleep.
    #[inline]
    pub fn cancellation(&self) -> &CancellationToken {
        &self.scope.cancellation
    }

    /// Whether the job has been cancelled.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.scope.cancellation.is_cancelled()
    }

    /// The tracing span of the job; events emitted by the wrappers belong to it.
    #[inline]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
}

impl Default for ActionContext {
    fn default() -> Self {
        Self::detached()
    }
}

impl fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionContext")
            .field("job_id", &self.job_id)
            .field("queue", &self.queue())
            .field("worker_id", &self.worker_id())
            .field("delivery", &self.delivery)
            .field("attempt", &self.attempt())
            .field("retries", &self.retries())
            .field("deadline", &self.deadline)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Builds an [`ActionContext`]; every field has a default.
///
/// ```
/// use std::time::Duration;
/// use tokio_util::sync::CancellationToken;
/// use worker_utils::ActionContext;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// let ctx = ActionContext::builder()
///     .deadline_in(Duration::from_secs(30))
///     .cancellation(token.clone())
///     .build();
/// token.cancel();
/// assert!(ctx.is_cancelled());
/// # }
/// ```
#[derive(Debug, Default)]
pub struct ActionContextBuilder {
    job_id: Option<JobId>,
    queue: Option<Name>,
    worker_id: Option<Name>,
    delivery: Option<u32>,
    deadline: Option<Instant>,
    cancellation: Option<CancellationToken>,
    span: Option<tracing::Span>,
}

impl ActionContextBuilder {
    /// Sets the job id.
    pub fn job_id(mut self, id: JobId) -> Self {
        self.job_id = Some(id);
        self
    }

    /// Sets the queue name.
    pub fn queue(mut self, queue: impl Into<Name>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Sets the worker id.
    pub fn worker_id(mut self, worker_id: impl Into<Name>) -> Self {
        self.worker_id = Some(worker_id.into());
        self
    }

    /// Sets how many times the queue has delivered the job (default 1).
    pub fn delivery(mut self, delivery: u32) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// Sets an absolute deadline.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline `budget` from now (tokio's clock, so paused-clock tests see it).
    pub fn deadline_in(self, budget: std::time::Duration) -> Self {
        self.deadline(Instant::now() + budget)
    }

    /// Uses this cancellation token instead of a fresh one.
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = Some(token);
        self
    }

    /// Uses this span for the job instead of `Span::none()`.
    pub fn span(mut self, span: tracing::Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Finishes the context.
    pub fn build(self) -> ActionContext {
        ActionContext {
            job_id: self.job_id,
            scope: Scope::new(
                self.queue.unwrap_or_default(),
                self.worker_id.unwrap_or_default(),
                self.cancellation.unwrap_or_default(),
            ),
            delivery: self.delivery.unwrap_or(1),
            attempt: AtomicU32::new(1),
            retries: AtomicU32::new(0),
            deadline: self.deadline,
            span: self.span.unwrap_or_else(tracing::Span::none),
        }
    }
}
