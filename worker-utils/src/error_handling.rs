//! [`ErrorHandling`]: reports every failure once, survives panics, and lets the user
//! recover.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::finish::{Finish, catching};
use crate::metrics;

/// The outermost wrapper of an action: on failure it emits one structured `tracing` event
/// (job id, queue, worker, action, attempt, kind, error chain), counts the error by kind,
/// runs the [`Cleanup`] hook, then hands the error to the [`ErrorHandler`], which may pass
/// it on, convert it, or recover with a value. A panic inside the action is caught and
/// becomes a `System` error carrying the panic message: the caller lives on. So does a
/// panic in the handler or the cleanup hook; the failure they were given was reported
/// already, and the panic is returned as the `System` error.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::Panics;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let action = ErrorHandling::new(Panics::new("boom"))
///     .handler(|err: ActionError, _: &(), _: &ActionContext| {
///         assert_eq!(err.kind(), ErrorKind::System);
///         Ok::<_, ActionError>(0_u32) // recover with a fallback value
///     });
/// assert_eq!(action.execute(5, &(), &ActionContext::detached()).await.unwrap(), 0);
/// # }
/// ```
#[derive(Debug)]
pub struct ErrorHandling<A, H = PassThrough, C = NoCleanup> {
    inner: A,
    handler: H,
    cleanup: C,
    duration: OnceLock<::metrics::Histogram>,
}

impl<A> ErrorHandling<A> {
    /// Wraps `inner`; errors pass through after being reported.
    pub fn new(inner: A) -> Self {
        Self { inner, handler: PassThrough, cleanup: NoCleanup, duration: OnceLock::new() }
    }
}

impl<A, H, C> ErrorHandling<A, H, C> {
    /// Hands every failure to `handler` after reporting it.
    pub fn handler<H2>(self, handler: H2) -> ErrorHandling<A, H2, C> {
        ErrorHandling { inner: self.inner, handler, cleanup: self.cleanup, duration: self.duration }
    }

    /// Runs `cleanup` on every failure, before the handler.
    pub fn cleanup<C2>(self, cleanup: C2) -> ErrorHandling<A, H, C2> {
        ErrorHandling { inner: self.inner, handler: self.handler, cleanup, duration: self.duration }
    }

    /// The wrapped action.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<D, A, H, C> Action<D> for ErrorHandling<A, H, C>
where
    D: ?Sized + Sync,
    A: Action<D>,
    H: ErrorHandler<A::Output, D>,
    C: Cleanup<D>,
{
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn step_names(&self) -> Vec<&'static str> {
        self.inner.step_names()
    }

    fn worst_case(&self) -> Option<std::time::Duration> {
        self.inner.worst_case()
    }

    /// Starts the call; the returned future reports its failure, if any.
    #[inline]
    fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<A::Output, ActionError>> + Send {
        let started = metrics::enabled().then(Instant::now);
        // Only the future's polls are guarded: guarding the call that makes it too (an `async`
        // block, or `catch_unwind` around the call) cost the error handling + retry stack 5 to
        // 7 ns a call. A panic in such eager work, possible only in a hand-written action
        // (`#[action]` fns start nothing before their first poll), is caught by the runner,
        // which guards the call and fails that job alone.
        let call = CatchPanic { call: self.inner.execute(input, deps, ctx) };
        // The last step never unwinds: a success with timing off runs nothing that can panic,
        // and everything else runs in `catching`, where a panic in the handler, the cleanup
        // hook or the metrics recorder becomes a `System` error like the action's own.
        Finish::new(call, move |outcome| match outcome {
            Ok(Ok(output)) if started.is_none() => Ok(output),
            // `move`, so that the closures copy the captures out of the future rather than
            // point into it.
            outcome => catching(
                move || self.finish(outcome, started, deps, ctx),
                move |payload| {
                    Err(ActionError::system(Panicked::from_payload(payload)).in_context(self.name(), ctx))
                },
            ),
        })
    }
}

impl<A, H, C> ErrorHandling<A, H, C> {
    /// Records the call's duration, and hands a failure on to [`Self::fail`].
    #[inline]
    fn finish<D, T>(
        &self,
        outcome: std::thread::Result<Result<T, ActionError>>,
        started: Option<Instant>,
        deps: &D,
        ctx: &ActionContext,
    ) -> Result<T, ActionError>
    where
        D: ?Sized + Sync,
        A: Action<D, Output = T>,
        H: ErrorHandler<T, D>,
        C: Cleanup<D>,
    {
        if let Some(started) = started {
            self.record_duration(self.name(), started);
        }
        let error = match outcome {
            Ok(Ok(output)) => return Ok(output),
            Ok(Err(error)) => error,
            Err(payload) => ActionError::system(Panicked::from_payload(payload)),
        };
        self.fail(error, deps, ctx)
    }

    #[inline(never)]
    fn record_duration(&self, action: &'static str, started: Instant) {
        let histogram = self.duration.get_or_init(|| metrics::duration_histogram(action));
        histogram.record(started.elapsed());
    }

    /// Reports a failure, cleans up, and lets the handler decide the result. Out of line,
    /// so the success path stays small enough to inline.
    #[cold]
    fn fail<D, T>(&self, error: ActionError, deps: &D, ctx: &ActionContext) -> Result<T, ActionError>
    where
        D: ?Sized + Sync,
        A: Action<D, Output = T>,
        H: ErrorHandler<T, D>,
        C: Cleanup<D>,
    {
        let error = error.in_context(self.name(), ctx);
        report(&error, ctx);
        self.cleanup.cleanup(&error, deps, ctx);
        self.handler.handle(error, deps, ctx)
    }
}

pin_project! {
    /// `FutureExt::catch_unwind`, with a poll that is always inlined: the success path of
    /// every wrapper stack goes through it.
    struct CatchPanic<F> {
        #[pin]
        call: F,
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = std::thread::Result<F::Output>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let call = self.project().call;
        match std::panic::catch_unwind(AssertUnwindSafe(|| call.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The one structured event and the error counter for a failure.
fn report(error: &ActionError, ctx: &ActionContext) {
    metrics::record_error(error.action(), error.kind());
    tracing::error!(
        parent: ctx.span(),
        job_id = error.job_id().map(|id| id.get()),
        queue = ctx.queue(),
        worker = ctx.worker_id(),
        action = error.action(),
        attempt = error.attempt(),
        kind = error.kind().as_str(),
        error = %error.chain(),
        "action failed",
    );
}

/// Decides what a failure becomes after it was reported: the same error, another error,
/// or a recovered value.
///
/// Any `Fn(ActionError, &D, &ActionContext) -> Result<T, ActionError>` is a handler.
///
/// ```
/// use worker_utils::prelude::*;
///
/// /// Business-logic rejections are not failures of the job: record them and go on.
/// struct AcceptRejections;
///
/// impl<D: ?Sized + Sync> ErrorHandler<Option<String>, D> for AcceptRejections {
///     fn handle(&self, error: ActionError, _: &D, _: &ActionContext) -> Result<Option<String>, ActionError> {
///         match error.kind() {
///             ErrorKind::BusinessLogic => Ok(None),
///             _ => Err(error),
///         }
///     }
/// }
/// ```
pub trait ErrorHandler<T, D: ?Sized>: Send + Sync {
    /// Turns a reported failure into the wrapper's result.
    fn handle(&self, error: ActionError, deps: &D, ctx: &ActionContext) -> Result<T, ActionError>;
}

impl<T, D: ?Sized, F> ErrorHandler<T, D> for F
where
    F: Fn(ActionError, &D, &ActionContext) -> Result<T, ActionError> + Send + Sync,
{
    fn handle(&self, error: ActionError, deps: &D, ctx: &ActionContext) -> Result<T, ActionError> {
        self(error, deps, ctx)
    }
}

/// The default handler: the error passes through unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl<T, D: ?Sized> ErrorHandler<T, D> for PassThrough {
    fn handle(&self, error: ActionError, _: &D, _: &ActionContext) -> Result<T, ActionError> {
        Err(error)
    }
}

/// Releases what a failed call left behind (temporary files, locks, reservations).
///
/// Any `Fn(&ActionError, &D, &ActionContext)` is a cleanup hook.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use worker_utils::prelude::*;
/// use worker_utils::testing::FailTimes;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// static CLEANED: AtomicUsize = AtomicUsize::new(0);
/// let action = FailTimes::new(1, ErrorKind::Permanent)
///     .error_handling()
///     .cleanup(|_: &ActionError, _: &(), _: &ActionContext| {
///         CLEANED.fetch_add(1, Ordering::Relaxed);
///     });
/// assert!(action.execute(1_u8, &(), &ActionContext::detached()).await.is_err());
/// assert_eq!(CLEANED.load(Ordering::Relaxed), 1);
/// # }
/// ```
pub trait Cleanup<D: ?Sized>: Send + Sync {
    /// Runs once per failure, before the error handler.
    fn cleanup(&self, error: &ActionError, deps: &D, ctx: &ActionContext);
}

impl<D: ?Sized, F> Cleanup<D> for F
where
    F: Fn(&ActionError, &D, &ActionContext) + Send + Sync,
{
    fn cleanup(&self, error: &ActionError, deps: &D, ctx: &ActionContext) {
        self(error, deps, ctx);
    }
}

/// The default: nothing to clean up.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCleanup;

impl<D: ?Sized> Cleanup<D> for NoCleanup {
    fn cleanup(&self, _: &ActionError, _: &D, _: &ActionContext) {}
}

/// An action panicked; the panic message is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("action panicked: {message}")]
pub struct Panicked {
    message: String,
}

impl Panicked {
    /// The panic's message (`"<non-string panic payload>"` if it was not a string).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let message = match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload
                .downcast_ref::<&'static str>()
                .map_or_else(|| "<non-string panic payload>".to_owned(), |s| (*s).to_owned()),
        };
        Self { message }
    }
}
