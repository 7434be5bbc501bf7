use std::fmt;
use std::marker::PhantomData;

use tokio::time::Instant;

use super::{JobStatus, Name, StatusError, StatusEvent, StatusSink};
use crate::action::Action;
use crate::context::{ActionContext, JobId};
use crate::error::{ActionError, ErrorKind};

/// Publishes `PENDING` for a job that was just enqueued (the queue calls this).
///
/// ```
/// use worker_utils::JobId;
/// use worker_utils::status::{publish_pending, Broadcaster, JobStatus};
///
/// let broadcaster = Broadcaster::new();
/// publish_pending(&broadcaster, JobId::new(7), "thumbnails");
/// assert_eq!(broadcaster.latest(JobId::new(7)).unwrap().status, JobStatus::Pending);
/// ```
pub fn publish_pending(sink: &(impl StatusSink + ?Sized), job_id: JobId, queue: impl Into<Name>) {
    sink.publish(StatusEvent::new(job_id, queue, JobStatus::Pending));
}

fn processing(ctx: &ActionContext) -> StatusEvent {
    StatusEvent::for_job(ctx, JobStatus::Processing).previous(JobStatus::Pending)
}

fn completed(ctx: &ActionContext) -> StatusEvent {
    StatusEvent::for_job(ctx, JobStatus::Completed).previous(JobStatus::Processing)
}

fn failed(ctx: &ActionContext, error: StatusError) -> StatusEvent {
    let mut event = StatusEvent::for_job(ctx, JobStatus::Failed).previous(JobStatus::Processing);
    event.error = Some(error);
    event
}

macro_rules! passthrough_action {
    ($(#[$doc:meta])* $name:ident, $label:literal, $event:ident) => {
        $(#[$doc])*
        pub struct $name<S, T> {
            sink: S,
            _input: PhantomData<fn(T) -> T>,
        }

        impl<S: StatusSink, T> $name<S, T> {
            #[doc = concat!("An action that publishes `", $label, "` to `sink` and returns its input.")]
            pub fn new(sink: S) -> Self {
                Self { sink, _input: PhantomData }
            }
        }

        impl<S: Clone, T> Clone for $name<S, T> {
            fn clone(&self) -> Self {
                Self { sink: self.sink.clone(), _input: PhantomData }
            }
        }

        impl<S: fmt::Debug, T> fmt::Debug for $name<S, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("sink", &self.sink).finish()
            }
        }

        impl<D, S, T> Action<D> for $name<S, T>
        where
            D: ?Sized + Sync,
            S: StatusSink,
            T: Send,
        {
            type Input = T;
            type Output = T;

            fn name(&self) -> &'static str {
                concat!("broadcast_", $label)
            }

            async fn execute(&self, input: T, _deps: &D, ctx: &ActionContext) -> Result<T, ActionError> {
                self.sink.publish($event(ctx));
                Ok(input)
            }
        }
    };
}

passthrough_action! {
    /// Publishes `PROCESSING` (previous `PENDING`) for the context's job and passes its input
    /// through unchanged.
    ///
    /// ```
    /// use worker_utils::{Action, ActionContext, JobId};
    /// use worker_utils::status::{BroadcastProcessing, Broadcaster, JobStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broadcaster = Broadcaster::new();
    /// let ctx = ActionContext::builder().job_id(JobId::new(1)).queue("mail").build();
    /// let out = BroadcastProcessing::new(broadcaster.clone()).execute("data", &(), &ctx).await.unwrap();
    /// assert_eq!(out, "data");
    /// assert_eq!(broadcaster.latest(JobId::new(1)).unwrap().status, JobStatus::Processing);
    /// # }
    /// ```
    BroadcastProcessing, "processing", processing
}

passthrough_action! {
    /// Publishes `COMPLETED` (previous `PROCESSING`) for the context's job and passes its
    /// input through unchanged.
    ///
    /// A step in the pipeline does not know when the job started, so this event carries no
    /// duration; [`WithStatus`] measures it.
    ///
    /// ```
    /// use worker_utils::{Action, ActionContext, JobId};
    /// use worker_utils::status::{BroadcastCompleted, Broadcaster, JobStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broadcaster = Broadcaster::new();
    /// let ctx = ActionContext::builder().job_id(JobId::new(1)).build();
    /// let out = BroadcastCompleted::new(broadcaster.clone()).execute(42_u32, &(), &ctx).await.unwrap();
    /// assert_eq!(out, 42);
    /// assert_eq!(broadcaster.latest(JobId::new(1)).unwrap().status, JobStatus::Completed);
    /// # }
    /// ```
    BroadcastCompleted, "completed", completed
}

/// Publishes `FAILED` with the error's kind and bounded message for the context's job, and
/// passes the error through unchanged (run it on the failure path).
///
/// ```
/// use worker_utils::{Action, ActionContext, ActionError, ErrorKind, JobId};
/// use worker_utils::status::{BroadcastFailed, Broadcaster, JobStatus};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let broadcaster = Broadcaster::new();
/// let ctx = ActionContext::builder().job_id(JobId::new(1)).build();
/// let err = ActionError::permanent(std::io::Error::other("bad url"));
/// let err = BroadcastFailed::new(broadcaster.clone()).execute(err, &(), &ctx).await.unwrap();
/// assert_eq!(err.kind(), ErrorKind::Permanent);
///
/// let event = broadcaster.latest(JobId::new(1)).unwrap();
/// assert_eq!(event.status, JobStatus::Failed);
/// assert_eq!(event.error.unwrap().message, "bad url");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BroadcastFailed<S> {
    sink: S,
}

impl<S: StatusSink> BroadcastFailed<S> {
    /// An action that publishes `FAILED` to `sink` and returns the error it is given.
    ///
    /// ```
    /// # use worker_utils::status::{BroadcastFailed, DiscardStatus};
    /// let action = BroadcastFailed::new(DiscardStatus);
    /// # let _ = action;
    /// ```
    pub fn new(sink: S) -> Self {
        Self { sink }
    }
}

impl<D: ?Sized + Sync, S: StatusSink> Action<D> for BroadcastFailed<S> {
    type Input = ActionError;
    type Output = ActionError;

    fn name(&self) -> &'static str {
        "broadcast_failed"
    }

    async fn execute(
        &self,
        error: ActionError,
        _deps: &D,
        ctx: &ActionContext,
    ) -> Result<ActionError, ActionError> {
        self.sink.publish(failed(ctx, StatusError::from_action_error(&error)));
        Ok(error)
    }
}

/// Wraps an action (usually a whole pipeline) with status broadcasting: `PROCESSING` before
/// it runs, then exactly one terminal event: `COMPLETED` with the duration, or `FAILED` with
/// the duration, the error kind and a bounded message.
///
/// If the call is dropped before it finishes (cancelled, or the inner action panicked and
/// nothing caught it), `FAILED` is still published, so a job never stays `PROCESSING` in a
/// dashboard. Put it outermost, around retries, so one job gets one lifecycle.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::status::{Broadcaster, JobStatus, StatusExt};
/// use worker_utils::testing::FailTimes;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let broadcaster = Broadcaster::new();
/// let retry = RetryConfig::builder().jitter(false).build().unwrap(); // 1 s, then 2 s, …
/// let action = FailTimes::new(1, ErrorKind::Transient).retry(retry).with_status(broadcaster.clone());
///
/// let ctx = ActionContext::builder().job_id(JobId::new(4)).queue("images").build();
/// assert_eq!(action.execute("img", &(), &ctx).await.unwrap(), "img");
///
/// let event = broadcaster.latest(JobId::new(4)).unwrap();
/// assert_eq!(event.status, JobStatus::Completed);
/// assert_eq!(event.duration_ms, Some(1000)); // one retry after the 1 s base delay
/// assert_eq!(broadcaster.last_seq(), 2); // PROCESSING, COMPLETED
/// # }
/// ```
#[doc(alias = "addStatusActions")]
#[derive(Debug, Clone)]
pub struct WithStatus<A, S> {
    inner: A,
    sink: S,
}

impl<A, S: StatusSink> WithStatus<A, S> {
    /// Wraps `inner`, publishing its job's status to `sink`.
    ///
    /// ```
    /// use worker_utils::Action;
    /// use worker_utils::status::{BroadcastProcessing, DiscardStatus, WithStatus};
    /// let action = WithStatus::new(BroadcastProcessing::<_, u32>::new(DiscardStatus), DiscardStatus);
    /// assert_eq!(Action::<()>::name(&action), "broadcast_processing");
    /// ```
    pub fn new(inner: A, sink: S) -> Self {
        Self { inner, sink }
    }

    /// The wrapped action.
    ///
    /// ```
    /// # use worker_utils::status::{BroadcastProcessing, DiscardStatus, StatusExt};
    /// let action = BroadcastProcessing::<_, u32>::new(DiscardStatus).with_status(DiscardStatus);
    /// let _inner: &BroadcastProcessing<DiscardStatus, u32> = action.inner();
    /// ```
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The sink events go to.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, BroadcastProcessing, DiscardStatus, StatusExt};
    /// let action = BroadcastProcessing::<_, u32>::new(DiscardStatus).with_status(Broadcaster::new());
    /// assert_eq!(action.sink().last_seq(), 0);
    /// ```
    pub fn sink(&self) -> &S {
        &self.sink
    }
}

impl<D, A, S> Action<D> for WithStatus<A, S>
where
    D: ?Sized + Sync,
    A: Action<D>,
    S: StatusSink,
{
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn worst_case(&self) -> Option<std::time::Duration> {
        self.inner.worst_case()
    }

    fn step_names(&self) -> Vec<&'static str> {
        self.inner.step_names()
    }

    async fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> Result<A::Output, ActionError> {
        let started = Instant::now();
        self.sink.publish(processing(ctx));
        let mut pending = Terminal { sink: &self.sink, ctx, started, armed: true };
        let result = self.inner.execute(input, deps, ctx).await;
        pending.armed = false;
        let event = match &result {
            Ok(_) => completed(ctx),
            Err(error) => failed(ctx, StatusError::from_action_error(error)),
        };
        self.sink.publish(event.duration(started.elapsed()));
        result
    }
}

/// Publishes `FAILED` if the call it guards ends without reaching its terminal event.
struct Terminal<'a, S: StatusSink> {
    sink: &'a S,
    ctx: &'a ActionContext,
    started: Instant,
    armed: bool,
}

impl<S: StatusSink> Drop for Terminal<'_, S> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let error = if std::thread::panicking() {
            StatusError::new(ErrorKind::System, "action panicked")
        } else if self.ctx.is_cancelled() {
            StatusError::new(ErrorKind::Transient, "job cancelled")
        } else {
            StatusError::new(ErrorKind::Transient, "job stopped before it finished")
        };
        self.sink.publish(failed(self.ctx, error).duration(self.started.elapsed()));
    }
}

/// Adds [`with_status`](StatusExt::with_status) to every action.
///
/// ```
/// use worker_utils::status::{BroadcastProcessing, DiscardStatus, StatusExt, WithStatus};
/// let _action: WithStatus<BroadcastProcessing<DiscardStatus, u32>, DiscardStatus> =
///     BroadcastProcessing::new(DiscardStatus).with_status(DiscardStatus);
/// ```
pub trait StatusExt: Sized {
    /// Publishes `PROCESSING` before this action and `COMPLETED`/`FAILED` after it.
    ///
    /// ```
    /// use worker_utils::{Action, ActionContext, JobId};
    /// use worker_utils::status::{Broadcaster, BroadcastProcessing, DiscardStatus, JobStatus, StatusExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broadcaster = Broadcaster::new();
    /// let action = BroadcastProcessing::new(DiscardStatus).with_status(broadcaster.clone());
    /// let ctx = ActionContext::builder().job_id(JobId::new(2)).build();
    /// action.execute(1_u8, &(), &ctx).await.unwrap();
    /// assert_eq!(broadcaster.latest(JobId::new(2)).unwrap().status, JobStatus::Completed);
    /// # }
    /// ```
    fn with_status<S: StatusSink>(self, sink: S) -> WithStatus<Self, S> {
        WithStatus::new(self, sink)
    }
}

impl<A: Send + Sync> StatusExt for A {}
