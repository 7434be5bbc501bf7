//! The [`Action`] trait every step of a worker implements, the [`ActionExt`]
//! combinators that wrap one action in another, and [`action_fn`], which makes an action
//! of a plain `async fn`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::circuit_breaker::{Breaker, CircuitBreaker};
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::error_handling::ErrorHandling;
use crate::pipeline::Then;
use crate::retry::{Retry, RetryConfig};
use crate::timeout::Timeout;

pub use crate::macro_support::FnAction;
use crate::validate::Validate;
pub use from_fn::{AsyncActionFn, CallFn, FromFn, Signature, action_fn};

mod from_fn;

/// One step of a job: takes an input, the shared dependencies `D` and the job's context,
/// and produces an output or an [`ActionError`].
///
/// Wrappers ([`Retry`], [`ErrorHandling`], [`Timeout`]) are actions around an inner action,
/// composed generically: a stack of wrappers is one concrete type, with no boxing and no
/// allocation per call on the success path.
///
/// `#[action]` writes this impl for a plain `async fn`; by hand it reads:
///
/// ```
/// use worker_utils::{Action, ActionContext, ActionError};
///
/// struct Double;
///
/// impl<D: Sync> Action<D> for Double {
///     type Input = u32;
///     type Output = u32;
///
///     fn name(&self) -> &'static str {
///         "double"
///     }
///
///     async fn execute(&self, input: u32, _deps: &D, _ctx: &ActionContext) -> Result<u32, ActionError> {
///         Ok(input * 2)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let out = Double.execute(21, &(), &ActionContext::detached()).await.unwrap();
/// assert_eq!(out, 42);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an action for deps `{D}`",
    label = "not an action for deps `{D}`",
    note = "make a plain `async fn` an action with `action_fn(\"name\", f)` or `#[action]`, and wrap that; \
            a wrapper (`.retry(..)`, `.timeout(..)`, `.error_handling()`, ..) is an action only around an action, \
            and an fn with a `&Deps` parameter only for that `Deps`"
)]
pub trait Action<D: ?Sized + Sync = ()>: Send + Sync {
    /// What the action consumes.
    type Input: Send;
    /// What the action produces.
    type Output: Send;

    /// A stable name for logs, metrics and status events.
    fn name(&self) -> &'static str;

    /// The longest one call can take, if it is bounded: timeouts bound it, retries
    /// multiply it. The runner compares it with the queue's lease, so that a job is never
    /// handed to a second worker while the first may still be working on it.
    fn worst_case(&self) -> Option<Duration> {
        None
    }

    /// The names of the steps one call runs, in order: the action's own name, or every
    /// step's for a [pipeline](crate::pipeline::Then). Messages about a whole pipeline
    /// (such as the runner's lease check) use it; wrappers pass it through.
    ///
    /// ```
    /// use worker_utils::prelude::*;
    /// use worker_utils::testing::Mock;
    ///
    /// let parse = Mock::new(|s: String| s.parse::<u32>().map_err(ActionError::permanent)).named("parse");
    /// let double = Mock::new(|n: u32| Ok(n * 2)).named("double");
    /// assert_eq!(Action::<()>::step_names(&parse.then(double)), ["parse", "double"]);
    /// ```
    fn step_names(&self) -> Vec<&'static str> {
        vec![self.name()]
    }

    /// Runs the action once.
    fn execute(
        &self,
        input: Self::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<Self::Output, ActionError>> + Send;
}

/// A shared action is an action: one instance can serve many workers.
impl<D: ?Sized + Sync, A: Action<D> + ?Sized> Action<D> for Arc<A> {
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn worst_case(&self) -> Option<Duration> {
        (**self).worst_case()
    }

    fn step_names(&self) -> Vec<&'static str> {
        (**self).step_names()
    }

    fn execute(
        &self,
        input: Self::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<Self::Output, ActionError>> + Send {
        (**self).execute(input, deps, ctx)
    }
}

/// Combinators that wrap an action in another: `a.timeout(d).retry(cfg).error_handling()`
/// composes from the inside out.
///
/// Like `FutureExt`, it is implemented for every `Send + Sync` type and checked when the
/// wrapped value is used as an [`Action`]: `Action<D>` is generic over the deps, and a
/// bound that every action meets but a plain fn does not cannot be written without `D`
/// (an action generic over `D` would make every call ambiguous) or without an extra impl
/// in every hand-written action. So a plain `async fn` wraps without complaint, and the
/// worker or runner that receives the stack says to make the fn an action first, with
/// [`action_fn`] or `#[action]`; a direct `.execute(..)` on such a stack reports that the
/// fn does not implement `Action`. Where another crate's `.retry()` is in scope too
/// (backon's `Retryable` on closures), call [`Retry::new`] or `ActionExt::retry(a, cfg)`.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::FailTimes;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// // Fails twice with a transient error, then returns its input.
/// let flaky = FailTimes::new(2, ErrorKind::Transient);
/// let action = flaky.retry(RetryConfig::default()).error_handling();
/// let out = action.execute(7_u32, &(), &ActionContext::detached()).await.unwrap();
/// assert_eq!(out, 7);
/// # }
/// ```
pub trait ActionExt: Sized {
    /// Retries failures of the kinds `config` names, with backoff between attempts.
    fn retry(self, config: RetryConfig) -> Retry<Self> {
        Retry::new(self, config)
    }

    /// Logs failures, turns panics into `System` errors and runs recovery hooks.
    fn error_handling(self) -> ErrorHandling<Self> {
        ErrorHandling::new(self)
    }

    /// Runs `next` on this action's output: a two-step pipeline.
    fn then<B>(self, next: B) -> Then<Self, B> {
        Then::new(self, next)
    }

    /// Fails an attempt that takes longer than `limit` with a transient
    /// [`Elapsed`](crate::timeout::Elapsed) error, dropping the unfinished call.
    fn timeout(self, limit: Duration) -> Timeout<Self> {
        Timeout::new(self, limit)
    }

    /// Fails the whole call (put it outside `.retry(..)`: all attempts and the waits
    /// between them) after `limit`.
    fn total_timeout(self, limit: Duration) -> Timeout<Self> {
        Timeout::total(self, limit)
    }

    /// Runs this action through `breaker` (a clone of a shared [`CircuitBreaker`]): fails
    /// fast with [`CircuitOpen`](crate::CircuitOpen) while it is open, and records every
    /// call's outcome in it.
    fn circuit_breaker(self, breaker: CircuitBreaker) -> Breaker<Self> {
        Breaker::new(self, breaker)
    }

    /// Checks each input with `validator` (`Fn(&Input, &D) -> Result<(), E>`) before this
    /// action runs; a rejection is a `Permanent` [`ValidationFailed`](crate::validate::ValidationFailed),
    /// never retried or redelivered. Put it outside `.retry(..)`, so it runs once per call.
    /// (Not `validate`, which would clash with the `validator` crate's method.)
    fn validate_with<V>(self, validator: V) -> Validate<Self, V> {
        Validate::new(self, validator)
    }
}

impl<A: Send + Sync> ActionExt for A {}
