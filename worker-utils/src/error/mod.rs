//! Errors of actions: the [`ErrorKind`] classification and the [`ActionError`] that carries
//! an error with its job context through every wrapper.

mod kind;

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

pub use kind::{Classify, ErrorKind};

use crate::context::{ActionContext, JobId};

/// A boxed error that can cross threads: the source an [`ActionError`] keeps.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error every action returns: the source error with its kind and job context.
///
/// It keeps the source error (and so its whole `source()` chain), the [`ErrorKind`] that
/// decides retrying, the action name, the attempt and the job id, and an optional
/// retry-after hint. It is one pointer wide, so `Result<T, ActionError>` stays small on
/// the success path.
///
/// `Display` prints the context and the source's message (`fetch_image, attempt 2: upstream
/// timed out`); `source()` continues with the source's own source, like
/// `#[error(transparent)]`, so a chain printer shows every message once.
///
/// ```
/// use worker_utils::{ActionContext, ActionError, ErrorKind, JobId};
///
/// let ctx = ActionContext::builder().job_id(JobId::new(9)).build();
/// let err = ActionError::transient(std::io::Error::other("connection reset"))
///     .in_context("fetch_image", &ctx);
/// assert_eq!(err.kind(), ErrorKind::Transient);
/// assert_eq!(err.action(), "fetch_image");
/// assert_eq!(err.job_id(), Some(JobId::new(9)));
/// assert_eq!(err.to_string(), "fetch_image, attempt 1: connection reset");
/// assert!(err.downcast_ref::<std::io::Error>().is_some());
/// ```
pub struct ActionError(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    action: &'static str,
    attempt: u32,
    job_id: Option<JobId>,
    retry_after: Option<Duration>,
    /// Reports a cancelled job: its source is [`Cancelled`], or a wrapper that gave up
    /// because its job was cancelled said so ([`ActionError::into_cancelled`]).
    cancelled: bool,
    source: BoxError,
}

impl ActionError {
    /// Wraps `source` as an error of the given kind, with no job context yet.
    pub fn new(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        Self(Box::new(Inner {
            kind,
            action: "",
            attempt: 0,
            job_id: None,
            retry_after: None,
            cancelled: source.is::<Cancelled>(),
            source,
        }))
    }

    /// A [`Transient`](ErrorKind::Transient) error.
    pub fn transient(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Transient, source)
    }

    /// A [`Permanent`](ErrorKind::Permanent) error.
    pub fn permanent(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Permanent, source)
    }

    /// A [`System`](ErrorKind::System) error.
    pub fn system(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::System, source)
    }

    /// A [`BusinessLogic`](ErrorKind::BusinessLogic) error.
    pub fn business_logic(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::BusinessLogic, source)
    }

    /// The error for a job that was cancelled before it finished.
    ///
    /// Its kind is [`Transient`](ErrorKind::Transient) because the work did not fail and
    /// may well succeed when run again; but it is never treated as a failure: a retry loop
    /// stops at once instead of retrying it, and the runner gives the job back to the queue
    /// (not a failed delivery, no dead letter, no FAILED event). Test for it with
    /// [`is_cancelled`](Self::is_cancelled), not by its kind.
    ///
    /// ```
    /// use worker_utils::ActionError;
    /// assert!(ActionError::cancelled().is_cancelled());
    /// ```
    pub fn cancelled() -> Self {
        Self::transient(Cancelled)
    }

    /// Stamps the action name, the current attempt and the job id from `ctx`. An action
    /// name that is already set is kept, so the innermost action's name wins.
    pub fn in_context(mut self, action: &'static str, ctx: &ActionContext) -> Self {
        if self.0.action.is_empty() {
            self.0.action = action;
        }
        self.0.attempt = ctx.attempt();
        self.0.job_id = ctx.job_id();
        self
    }

    /// Marks the error as reporting a cancelled job, for a wrapper whose own error replaces
    /// the cancelled one (a retry loop that gave up because its job was cancelled).
    pub(crate) fn into_cancelled(mut self) -> Self {
        self.0.cancelled = true;
        self
    }

    /// Sets the context fields directly (for wrappers that rebuild an error).
    pub(crate) fn stamped(mut self, action: &'static str, attempt: u32, job_id: Option<JobId>) -> Self {
        self.0.action = action;
        self.0.attempt = attempt;
        self.0.job_id = job_id;
        self
    }

    /// Replaces the kind.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Sets the retry-after hint: the retry wrapper waits at least this long (clamped to its
    /// `max_delay`) before the next attempt.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }

    /// The kind, which decides whether a retry may help.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The name of the action that failed (empty until [`in_context`](Self::in_context)).
    pub fn action(&self) -> &'static str {
        self.0.action
    }

    /// The attempt that failed, counting from 1 (0 until stamped with a context).
    pub fn attempt(&self) -> u32 {
        self.0.attempt
    }

    /// The job the failing call ran for.
    pub fn job_id(&self) -> Option<JobId> {
        self.0.job_id
    }

    /// The retry-after hint, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The wrapped source error.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0.source
    }

    /// Takes the wrapped source error out.
    pub fn into_inner(self) -> BoxError {
        self.0.source
    }

    /// The source error as `T`, if it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.0.source.downcast_ref::<T>()
    }

    /// Whether this error reports a cancelled job (directly or as the reason a retry loop
    /// stopped).
    ///
    /// ```
    /// use worker_utils::ActionError;
    /// use worker_utils::error::Cancelled;
    /// assert!(ActionError::permanent(Cancelled).is_cancelled());
    /// assert!(!ActionError::transient(std::io::Error::other("reset")).is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled
    }

    /// Whether this error reports an input that its action's pre-flight validator rejected
    /// (a [`ValidationFailed`](crate::validate::ValidationFailed)): such a job is
    /// dead-lettered on its first delivery.
    ///
    /// ```
    /// use worker_utils::ActionError;
    /// use worker_utils::validate::ValidationFailed;
    /// assert!(ActionError::permanent(ValidationFailed::new("empty url")).failed_validation());
    /// assert!(!ActionError::permanent(std::io::Error::other("gone")).failed_validation());
    /// ```
    pub fn failed_validation(&self) -> bool {
        self.downcast_ref::<crate::validate::ValidationFailed>().is_some()
    }

    /// Displays the whole chain of messages, outermost first, separated by `: `.
    ///
    /// ```
    /// use worker_utils::ActionError;
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("cannot load config")]
    /// struct Load(#[source] std::io::Error);
    ///
    /// let err = ActionError::system(Load(std::io::Error::other("disk gone")));
    /// assert_eq!(err.chain().to_string(), "cannot load config: disk gone");
    /// ```
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
    }
}

/// Displays an error and all its sources; see [`ActionError::chain`].
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a>(&'a ActionError);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.action.is_empty() {
            write!(f, "{}, attempt {}: ", self.0.action, self.0.attempt)?;
        }
        fmt::Display::fmt(&self.0.source, f)
    }
}

impl fmt::Debug for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionError")
            .field("kind", &self.0.kind)
            .field("action", &self.0.action)
            .field("attempt", &self.0.attempt)
            .field("job_id", &self.0.job_id)
            .field("retry_after", &self.0.retry_after)
            .field("source", &self.0.source)
            .finish()
    }
}

impl StdError for ActionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source.source()
    }
}

impl<E> From<E> for ActionError
where
    E: Classify + StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        let kind = error.kind();
        let retry_after = error.retry_after();
        let mut this = Self::new(kind, error);
        this.0.retry_after = retry_after;
        this
    }
}

/// The job was cancelled (worker shutdown or an explicit request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("job cancelled")]
pub struct Cancelled;
