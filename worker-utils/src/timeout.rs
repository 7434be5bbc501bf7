//! [`Timeout`]: bounds the time an action may take, per attempt or in total.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::{ActionError, Classify, ErrorKind};

/// Fails a call that runs longer than its limit with [`Elapsed`]; the unfinished call is
/// dropped, which cancels it.
///
/// The timer is armed the first time the call waits, so a call that finishes without
/// waiting (a cache hit, a fast path) costs no timer; the limit counts from that first wait.
/// (A timer cannot interrupt a running poll anyway, so only the first poll's own CPU time
/// is outside the limit.)
///
/// Where it sits decides what it bounds: inside a [`Retry`](crate::Retry)
/// ([`Timeout::new`], `.timeout(d)`) each attempt; outside it ([`Timeout::total`],
/// `.total_timeout(d)`) all attempts and the waits between them.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::prelude::*;
/// use worker_utils::timeout::Elapsed;
/// use worker_utils::testing::Sleep;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let slow = Sleep::new(Duration::from_secs(10)).timeout(Duration::from_secs(1));
/// let err = slow.execute((), &(), &ActionContext::detached()).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Transient);
/// assert_eq!(err.downcast_ref::<Elapsed>().unwrap().limit(), Duration::from_secs(1));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Timeout<A> {
    inner: A,
    limit: Duration,
    scope: TimeoutScope,
}

/// What a [`Timeout`] bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutScope {
    /// One attempt (the timeout sits inside the retry loop).
    Attempt,
    /// The whole call: every attempt and the waits between them.
    Total,
}

impl<A> Timeout<A> {
    /// Wraps `inner` so each attempt fails after `limit`.
    pub fn new(inner: A, limit: Duration) -> Self {
        Self { inner, limit, scope: TimeoutScope::Attempt }
    }

    /// Wraps `inner` (typically a [`Retry`](crate::Retry)) so the whole call, retries
    /// included, fails after `limit`.
    pub fn total(inner: A, limit: Duration) -> Self {
        Self { inner, limit, scope: TimeoutScope::Total }
    }

    /// The time limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// What the limit bounds.
    pub fn scope(&self) -> TimeoutScope {
        self.scope
    }

    /// The wrapped action.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<D: ?Sized + Sync, A: Action<D>> Action<D> for Timeout<A> {
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn step_names(&self) -> Vec<&'static str> {
        self.inner.step_names()
    }

    /// At most the limit, less if the inner action is bounded tighter.
    fn worst_case(&self) -> Option<Duration> {
        Some(self.inner.worst_case().map_or(self.limit, |inner| inner.min(self.limit)))
    }

    #[inline]
    fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<A::Output, ActionError>> + Send {
        let timed_out = move || {
            let elapsed = Elapsed { limit: self.limit, scope: self.scope };
            ActionError::from(elapsed).in_context(self.name(), ctx)
        };
        Timed {
            call: self.inner.execute(input, deps, ctx),
            timer: LazyTimer(None),
            limit: self.limit,
            timed_out,
        }
    }
}

pin_project! {
    /// The future of [`Timeout::execute`]: the call, and a timer armed at its first wait.
    /// Written by hand, as the other wrappers' futures are: see
    /// [`Finish`](crate::finish::Finish) for why.
    struct Timed<F, G> {
        #[pin]
        call: F,
        timer: LazyTimer,
        limit: Duration,
        timed_out: G,
    }
}

impl<T, F, G> Future for Timed<F, G>
where
    F: Future<Output = Result<T, ActionError>>,
    G: Fn() -> ActionError,
{
    type Output = Result<T, ActionError>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.call.poll(cx) {
            return Poll::Ready(result);
        }
        match this.timer.armed(*this.limit).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err((this.timed_out)())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The timer of a call, boxed when the call first waits.
///
/// Boxed so that the future holds one pointer, whose drop is a test and, once armed, a call:
/// the drop of an inline `Sleep` (cancel the entry, release the runtime handle) is too
/// large for the compiler to inline into the drop of a whole stack, and a stack whose drop
/// is a call keeps its future in memory: every layer's fields stored and loaded again on
/// every call. With it (and `finish::catching`), the five-layer stack went from 188 to 60
/// instructions a call (the bare call is 9; tower's retry 66). The price is one allocation when a call waits (about
/// 130 instructions on top of the ~770 of arming, polling and cancelling the timer).
struct LazyTimer(Option<Pin<Box<Sleep>>>);

impl LazyTimer {
    /// The timer, armed for `limit` from now if it was not yet.
    #[inline(always)]
    fn armed(&mut self, limit: Duration) -> Pin<&mut Sleep> {
        self.0.get_or_insert_with(|| arm(limit)).as_mut()
    }
}

#[inline(never)]
fn arm(limit: Duration) -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep(limit))
}

impl Drop for LazyTimer {
    #[inline]
    fn drop(&mut self) {
        if let Some(sleep) = self.0.take() {
            disarm(sleep);
        }
    }
}

/// Cancels an armed timer, out of line: the success path never armed one.
#[inline(never)]
fn disarm(sleep: Pin<Box<Sleep>>) {
    drop(sleep);
}

/// A call ran past its time limit.
///
/// ```
/// # use std::time::Duration;
/// # use worker_utils::prelude::*;
/// # use worker_utils::testing::Sleep;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let slow = Sleep::new(Duration::from_secs(10)).total_timeout(Duration::from_secs(2));
/// let err = slow.execute((), &(), &ActionContext::detached()).await.unwrap_err();
/// assert_eq!(err.to_string(), "sleep, attempt 1: timed out after 2s in total");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct Elapsed {
    limit: Duration,
    scope: TimeoutScope,
}

impl Elapsed {
    /// The limit that was exceeded.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Whether it was the limit of one attempt or of the whole call.
    pub fn scope(&self) -> TimeoutScope {
        self.scope
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            TimeoutScope::Attempt => write!(f, "attempt timed out after {:?}", self.limit),
            TimeoutScope::Total => write!(f, "timed out after {:?} in total", self.limit),
        }
    }
}

impl Classify for Elapsed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Transient
    }
}

/// `duration` in whole milliseconds, saturating at `u64::MAX` instead of overflowing (for
/// status events, Redis arguments and settings).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
