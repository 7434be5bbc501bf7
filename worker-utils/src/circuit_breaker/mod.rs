//! [`CircuitBreaker`]: stops calling a failing dependency for a while, then probes it.
//!
//! A [`CircuitBreaker`] is a named, shared instance; the [`Breaker`] wrapper
//! (`.circuit_breaker(breaker)`) puts an action behind it. In the canonical order it sits
//! outside the retry loop: `error_handling → circuit breaker → retry → timeout → fn`, so one
//! call through the breaker is a whole retry loop, and a rejected call is not retried
//! against an open circuit.
//!
//! Metrics (through the [`metrics`] facade):
//!
//! | name | type | labels | recorded |
//! |---|---|---|---|
//! | `worker_utils_circuit_state` | gauge | `name` | at creation and every transition: 0 closed, 1 open, 2 half-open |
//! | `worker_utils_circuit_transitions_total` | counter | `name`, `from`, `to` | every transition |
//! | `worker_utils_circuit_rejected_total` | counter | `name` | every call rejected with [`CircuitOpen`] |
//!
//! Each transition also emits a `tracing` event (`warn` when opening, `info` otherwise)
//! with the fields `breaker`, `from` and `to`.

mod config;
mod guarded;
mod state;
mod window;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use config::{CircuitBreakerConfig, CircuitBreakerConfigBuilder, SlidingWindow};
pub use state::{CallPermit, CircuitBreaker, CircuitState};

use guarded::Guarded;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::{ActionError, Classify, ErrorKind};

/// Runs the inner action through a [`CircuitBreaker`]: fails fast with [`CircuitOpen`]
/// while the breaker is open, and records every call's outcome in it.
///
/// An error counts as a failure if its kind is one of the config's `failure_kinds`
/// (Transient and System by default); a call that is cancelled or panics counts as a
/// failure too. The success path allocates nothing and holds the breaker's lock only for
/// its bookkeeping, never across an `.await`.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::prelude::*;
/// use worker_utils::circuit_breaker::{Breaker, CircuitBreakerConfig};
/// use worker_utils::testing::FailTimes;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let config = CircuitBreakerConfig::builder().consecutive_failures(1).build().unwrap();
/// let breaker = CircuitBreaker::new("thumbnails", config);
/// let action = Breaker::new(FailTimes::new(1, ErrorKind::System), breaker.clone());
///
/// let ctx = ActionContext::detached();
/// action.execute("img", &(), &ctx).await.unwrap_err();
/// let err = action.execute("img", &(), &ctx).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Transient);
/// assert_eq!(err.to_string(), "fail_times, attempt 1: circuit `thumbnails` is open for another 30s");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Breaker<A> {
    inner: A,
    breaker: CircuitBreaker,
}

impl<A> Breaker<A> {
    /// Puts `inner` behind `breaker` (a clone of a shared breaker, typically).
    pub fn new(inner: A, breaker: CircuitBreaker) -> Self {
        Self { inner, breaker }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The wrapped action.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<D: ?Sized + Sync, A: Action<D>> Action<D> for Breaker<A> {
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn step_names(&self) -> Vec<&'static str> {
        self.inner.step_names()
    }

    /// The inner action's: a rejected call returns at once.
    fn worst_case(&self) -> Option<Duration> {
        self.inner.worst_case()
    }

    #[inline]
    fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<A::Output, ActionError>> + Send {
        let acquire = move || {
            self.breaker.try_acquire().map_err(|open| {
                tracing::debug!(parent: ctx.span(), breaker = open.name(), "call rejected: the circuit breaker is open");
                ActionError::from(open).in_context(self.name(), ctx)
            })
        };
        Guarded::new(self.inner.execute(input, deps, ctx), acquire)
    }
}

/// A call was rejected because its circuit breaker is open, or half-open with every probe
/// permit in use. The call was not made and is not counted.
///
/// It is `Transient` (the dependency may recover) and, while the breaker is open, carries
/// the remaining open time as its retry-after hint; while half-open there is no hint.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::{ActionError, ErrorKind};
/// use worker_utils::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitOpen};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let config = CircuitBreakerConfig::builder().consecutive_failures(1).build().unwrap();
/// let breaker = CircuitBreaker::new("geo", config);
/// breaker.try_acquire().unwrap().failure();
/// tokio::time::advance(Duration::from_secs(12)).await;
///
/// let open: CircuitOpen = breaker.try_acquire().unwrap_err();
/// assert_eq!(open.name(), "geo");
/// assert_eq!(open.remaining(), Duration::from_secs(18));
/// assert_eq!(open.to_string(), "circuit `geo` is open for another 18s");
///
/// let err = ActionError::from(open);
/// assert_eq!(err.kind(), ErrorKind::Transient);
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(18)));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct CircuitOpen {
    name: &'static str,
    remaining: Duration,
    half_open: bool,
}

impl CircuitOpen {
    fn open(name: &'static str, remaining: Duration) -> Self {
        Self { name, remaining, half_open: false }
    }

    fn probing(name: &'static str) -> Self {
        Self { name, remaining: Duration::ZERO, half_open: true }
    }

    /// The name of the breaker that rejected the call.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How long the breaker stays open still; zero if it is half-open.
    pub fn remaining(&self) -> Duration {
        self.remaining
    }

    /// Whether the breaker was half-open, with all its probes in flight.
    pub fn is_half_open(&self) -> bool {
        self.half_open
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.half_open {
            write!(f, "circuit `{}` is half-open and its probes are all in flight", self.name)
        } else {
            write!(f, "circuit `{}` is open for another {:?}", self.name, self.remaining)
        }
    }
}

impl Classify for CircuitOpen {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Transient
    }

    fn retry_after(&self) -> Option<Duration> {
        (!self.half_open).then_some(self.remaining)
    }
}
