//! [`Timeout`]: bounds the time one attempt of an action may take.

use std::time::Duration;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::{ActionError, Classify, ErrorKind};

/// Fails a call that runs longer than its limit with [`Elapsed`]; the unfinished call is
/// dropped, which cancels it. Inside a [`Retry`](crate::Retry) the limit applies to each
/// attempt.
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
/// assert!(err.downcast_ref::<Elapsed>().is_some());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Timeout<A> {
    inner: A,
    limit: Duration,
}

impl<A> Timeout<A> {
    /// Wraps `inner` so each call fails after `limit`.
    pub fn new(inner: A, limit: Duration) -> Self {
        Self { inner, limit }
    }

    /// The time limit.
    pub fn limit(&self) -> Duration {
        self.limit
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

    async fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> Result<A::Output, ActionError> {
        match tokio::time::timeout(self.limit, self.inner.execute(input, deps, ctx)).await {
            Ok(result) => result,
            Err(_) => Err(ActionError::from(Elapsed { limit: self.limit }).in_context(self.name(), ctx)),
        }
    }
}

/// An attempt ran past its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {limit:?}")]
pub struct Elapsed {
    limit: Duration,
}

impl Elapsed {
    /// The limit that was exceeded.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

impl Classify for Elapsed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Transient
    }
}
