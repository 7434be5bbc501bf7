//! # worker-utils
//!
//! Retry with backoff and jitter, error classification and handling, timeouts and live job
//! status for async queue workers, with no boilerplate and no avoidable runtime cost.
//!
//! The building block is the [`Action`] trait: one step of a job. Wrappers are actions
//! around actions, composed generically:
//!
//! ```
//! use std::time::Duration;
//! use worker_utils::prelude::*;
//! use worker_utils::testing::FailTimes;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let config = RetryConfig::builder()
//!     .max_attempts(5)
//!     .base_delay(Duration::from_millis(200))
//!     .max_delay(Duration::from_secs(10))
//!     .build()
//!     .expect("valid retry config");
//!
//! // The canonical order: retry inside, error handling outside.
//! let action = FailTimes::new(2, ErrorKind::Transient)
//!     .timeout(Duration::from_secs(30))
//!     .retry(config)
//!     .error_handling();
//!
//! let ctx = ActionContext::detached();
//! assert_eq!(action.execute("payload", &(), &ctx).await.unwrap(), "payload");
//! assert_eq!(ctx.attempt(), 3);
//! # }
//! ```
//!
//! Most users write plain `async fn`s and let [`macro@action`] compose the wrappers, then
//! name the steps of a job with [`macro@worker`]; everything the macros generate is also
//! writable by hand through the traits below, with [`action_fn`] making an action of a
//! plain `async fn`.
//!
//! Modules, one concern each: [`action`](mod@action), [`context`], [`error`], [`retry`],
//! [`error_handling`], [`timeout`], [`circuit_breaker`], [`validate`], [`pipeline`],
//! [`queue`], [`worker`](mod@worker), [`alert`], [`status`], [`config`], [`metrics`],
//! [`profile`], [`trace`], `otel` (export to OpenTelemetry, behind the `otel` feature) and
//! `testing` (test doubles, behind the `testing` feature).
#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

pub mod action;
pub mod alert;
pub mod circuit_breaker;
pub mod config;
pub mod context;
pub mod error;
pub mod error_handling;
mod finish;
mod macro_support;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
pub mod pipeline;
pub mod profile;
pub mod queue;
#[cfg(feature = "redis")]
mod redis_connection;
pub mod retry;
mod rules;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timeout;
pub mod trace;
pub mod validate;
pub mod worker;

pub use action::{Action, ActionExt, action_fn};
pub use circuit_breaker::{CircuitBreaker, CircuitOpen};
pub use config::ConfigError;
pub use context::{ActionContext, ActionContextBuilder, JobId};
pub use error::{ActionError, BoxError, Classify, ErrorKind};
pub use error_handling::{Cleanup, ErrorHandler, ErrorHandling};
pub use retry::{Retry, RetryConfig};
pub use timeout::Timeout;
/// The shutdown signal of a [`Runner`](worker::Runner) and the cancellation of a job
/// ([`ActionContext::cancellation`]), re-exported so that running a worker needs no
/// dependency on `tokio-util`.
///
/// ```
/// use worker_utils::CancellationToken;
///
/// let shutdown = CancellationToken::new();
/// let for_the_runner = shutdown.clone();
/// shutdown.cancel(); // `runner.run(for_the_runner)` finishes the jobs in flight and returns
/// assert!(for_the_runner.is_cancelled());
/// ```
pub use tokio_util::sync::CancellationToken;
#[cfg(feature = "macros")]
pub use worker_utils_macros::{Classify, action, worker};

/// The names most users need, in one import.
pub mod prelude {
    pub use crate::CancellationToken;
    pub use crate::action::{Action, ActionExt, action_fn};
    pub use crate::circuit_breaker::{CircuitBreaker, CircuitOpen};
    pub use crate::context::{ActionContext, JobId};
    pub use crate::error::{ActionError, Classify, ErrorKind};
    pub use crate::error_handling::{Cleanup, ErrorHandler, ErrorHandling};
    pub use crate::retry::{Retry, RetryConfig};
    pub use crate::status::{Broadcaster, JobStatus, StatusExt, StatusSink};
    pub use crate::timeout::Timeout;
    #[cfg(feature = "macros")]
    pub use worker_utils_macros::{Classify, action, worker};
}

/// The README's Rust blocks, compiled (and run, unless `no_run`) as doctests, so that what
/// the README shows is what compiles when pasted. It shows feature-gated parts, so it is
/// checked with those features on (`cargo test --workspace --all-features`, as CI runs).
#[cfg(all(doctest, feature = "macros", feature = "otel", feature = "prometheus"))]
#[doc = include_str!("../../README.md")]
mod readme {}

/// Not public API: the only path macro-generated code uses to reach the runtime. Anything
/// here may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::action::Action;
    pub use crate::alert::AlertRule;
    pub use crate::circuit_breaker::{Breaker, CircuitBreaker, CircuitBreakerConfig, SlidingWindow};
    pub use crate::context::ActionContext;
    pub use crate::error::ActionError;
    pub use crate::error::{BoxError, Classify, ErrorKind};
    pub use crate::error_handling::{ErrorHandling, PassThrough};
    pub use crate::macro_support::{
        ActionFn, ActionStack, Call, CleanupHook, Feeds, FnAction, Handler, InputCheck, InputOf,
        IntoActionError, OkOf, Outcome, OutputOf, RetriedInput, RetryAfter, StepOutput, Validation,
        alert_rules, assert_clone, circuit_breaker, link, redelivery_policy, retry_budget, retry_config,
        step, validated,
    };
    pub use crate::pipeline::Then;
    pub use crate::retry::{Backoff, Jitter, Retry, RetryBudget, RetryConfig};
    pub use crate::timeout::Timeout;
    pub use crate::validate::Validate;
    pub use crate::worker::{RedeliveryPolicy, Worker};
}
