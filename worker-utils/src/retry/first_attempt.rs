//! The future of [`Retry::execute`](super::Retry): the first attempt polled in place.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::error::ActionError;

pin_project! {
    /// Polls the first attempt where it was built; only when it fails is the retry loop
    /// built, boxed, and polled instead.
    ///
    /// Written by hand rather than as an `async fn`: see [`Finish`](crate::finish::Finish)
    /// for why.
    #[project = Proj]
    pub(super) enum FirstAttempt<F, I, G, R> {
        Running {
            #[pin]
            attempt: F,
            // What attempt 2 needs: the input and the loop to run; `None` when there is none.
            retry: Option<(I, G)>,
        },
        Retrying {
            remaining: RetryLoop<R>,
        },
    }
}

impl<F, I, G, R> FirstAttempt<F, I, G, R> {
    /// Runs `attempt`; if it fails, hands its error and `input` to `retry_loop`.
    #[inline]
    pub(super) fn new(attempt: F, retry: Option<(I, G)>) -> Self {
        Self::Running { attempt, retry }
    }

    /// Runs every attempt in `retry_loop`, the first included (called with no error). The
    /// loop is built and boxed out of line, and the future holds only its pointer, so this
    /// path takes no reference to the future: a success path that may take it still keeps
    /// its future in registers (BENCHMARKS.md §10). Compiled in with `otel` only.
    #[cfg(feature = "otel")]
    #[inline]
    pub(super) fn in_loop<T>(input: I, retry_loop: G) -> Self
    where
        G: FnOnce(Option<ActionError>, I) -> R,
        R: Future<Output = Result<T, ActionError>>,
    {
        Self::Retrying { remaining: RetryLoop(Some(boxed_loop(retry_loop, None, input))) }
    }
}

impl<T, F, I, G, R> Future for FirstAttempt<F, I, G, R>
where
    F: Future<Output = Result<T, ActionError>>,
    G: FnOnce(Option<ActionError>, I) -> R,
    R: Future<Output = Result<T, ActionError>>,
{
    type Output = Result<T, ActionError>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.as_mut().project() {
            Proj::Running { attempt, retry } => match ready!(attempt.poll(cx)) {
                Ok(output) => Poll::Ready(Ok(output)),
                Err(error) => match retry.take() {
                    Some(retry) => self.start_retrying(error, retry, cx),
                    None => Poll::Ready(Err(error)),
                },
            },
            Proj::Retrying { remaining } => remaining.poll(cx),
        }
    }
}

impl<T, F, I, G, R> FirstAttempt<F, I, G, R>
where
    G: FnOnce(Option<ActionError>, I) -> R,
    R: Future<Output = Result<T, ActionError>>,
{
    /// The first attempt failed with `error`: builds the retry loop, polls it, and keeps it.
    #[cold]
    fn start_retrying(
        mut self: Pin<&mut Self>,
        error: ActionError,
        (input, retry_loop): (I, G),
        cx: &mut Context<'_>,
    ) -> Poll<R::Output> {
        let mut remaining = RetryLoop(Some(boxed_loop(retry_loop, Some(error), input)));
        let poll = remaining.poll(cx);
        self.set(Self::Retrying { remaining });
        poll
    }
}

/// Builds the retry loop and boxes it, in a call of its own: the loop's state machine is
/// large, and only its pointer comes back.
#[cold]
#[inline(never)]
fn boxed_loop<I, G, R>(retry_loop: G, error: Option<ActionError>, input: I) -> Pin<Box<R>>
where
    G: FnOnce(Option<ActionError>, I) -> R,
{
    Box::pin(retry_loop(error, input))
}

/// The boxed retry loop, polled and dropped in calls of their own, so that its state
/// machine is not inlined into the success path's poll and drop. Both calls get the box's
/// pointer, never the address of the future holding it, which could then no longer live
/// in registers. (`None` only once its `drop` has taken the loop out.)
pub(super) struct RetryLoop<R>(Option<Pin<Box<R>>>);

impl<R: Future> RetryLoop<R> {
    #[inline(always)]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<R::Output> {
        match &mut self.0 {
            Some(future) => poll_out_of_line(future.as_mut(), cx),
            None => Poll::Pending,
        }
    }
}

#[inline(never)]
fn poll_out_of_line<R: Future>(future: Pin<&mut R>, cx: &mut Context<'_>) -> Poll<R::Output> {
    future.poll(cx)
}

impl<R> Drop for RetryLoop<R> {
    #[inline]
    fn drop(&mut self) {
        drop_out_of_line(self.0.take());
    }
}

#[inline(never)]
fn drop_out_of_line<T>(value: T) {
    drop(value);
}
