//! [`Retry`]: runs an action again after retryable failures, with backoff and jitter.

pub(crate) mod backoff;
mod budget;
mod config;
mod first_attempt;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use backoff::{Backoff, Jitter};
pub use budget::RetryBudget;
pub use config::{KindSet, RetryConfig, RetryConfigBuilder, RetryPredicate};
use first_attempt::FirstAttempt;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::metrics;
use crate::trace::{InSpan, SpanSlot};

/// Retries the inner action on retryable errors, waiting a backoff delay between attempts.
///
/// Each attempt gets a clone of the input (the last one gets the original), sets
/// [`ActionContext::attempt`], and on failure the loop decides:
/// - not retryable (kind not in `retry_on`, or the predicate said no): stop;
/// - attempts used up: stop with [`AttemptsExhausted`];
/// - otherwise wait the backoff delay, at least the error's retry-after hint (clamped to
///   `max_delay`), then try again. A cancelled job stops the wait at once; a wait that would
///   end past the job's deadline is not started.
///
/// When the loop stops after more than one attempt, or because the budget refused a retry,
/// the error is an `ActionError` of the last attempt's kind (and retry-after hint) whose
/// source is [`AttemptsExhausted`] holding every attempt's error and the
/// [`GiveUpReason`].
/// The success path allocates nothing.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::prelude::*;
/// use worker_utils::retry::AttemptsExhausted;
/// use worker_utils::testing::FailTimes;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let config = RetryConfig::builder().max_attempts(3).jitter(false).build().unwrap();
/// let always_failing = Retry::new(FailTimes::new(5, ErrorKind::Transient), config);
///
/// let started = tokio::time::Instant::now();
/// let err = always_failing.execute(1_u8, &(), &ActionContext::detached()).await.unwrap_err();
/// assert_eq!(started.elapsed(), Duration::from_secs(1 + 2));
/// let exhausted = err.downcast_ref::<AttemptsExhausted>().unwrap();
/// assert_eq!(exhausted.attempts().len(), 3);
/// # }
/// ```
#[derive(Debug)]
pub struct Retry<A> {
    inner: A,
    config: RetryConfig,
    budget: Option<Arc<budget::BudgetState>>,
    attempts: OnceLock<::metrics::Counter>,
}

impl<A> Retry<A> {
    /// Wraps `inner` with the retry policy `config`.
    pub fn new(inner: A, config: RetryConfig) -> Self {
        let budget = config.budget().map(RetryBudget::account);
        Self { inner, config, budget, attempts: OnceLock::new() }
    }

    /// The retry policy.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The wrapped action.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<D, A> Action<D> for Retry<A>
where
    D: ?Sized + Sync,
    A: Action<D>,
    A::Input: Clone,
{
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn step_names(&self) -> Vec<&'static str> {
        self.inner.step_names()
    }

    /// Every attempt at its worst, plus `max_delay` before each retry (the longest a
    /// retry-after hint can make a wait).
    fn worst_case(&self) -> Option<Duration> {
        let attempts = self.config.max_attempts();
        Some(self.inner.worst_case()?.saturating_mul(attempts).saturating_add(self.config.worst_case_wait()))
    }

    /// Counts the attempt and sets its number when called; the attempt itself runs when
    /// polled.
    #[inline]
    fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<A::Output, ActionError>> + Send {
        if let Some(budget) = &self.budget {
            budget.record_call();
        }
        ctx.set_attempt(1);
        // Built and boxed only once an attempt has failed, so that the retry loop's state
        // (backoff timer, error history) costs the success path nothing.
        let retry_loop = move |error, input| self.attempts(error, input, deps, ctx);
        // Both opt-in switches in one load and one branch: while neither is on, the
        // instrumentation costs the success path nothing more.
        let on = metrics::switches::on();
        #[allow(clippy::collapsible_if, reason = "the block holds a second `if`, compiled in with `otel`")]
        if on.any() {
            if on.metrics() {
                metrics::count_attempt(&self.attempts, self.name());
            }
            // Every attempt in its own span: the loop runs them all, the first included,
            // so that the untraced first attempt below stays unwrapped. Compiled in with
            // `otel` only; the traced start takes no reference to the future, which keeps
            // an untraced one in registers (BENCHMARKS.md §10).
            #[cfg(feature = "otel")]
            if on.spans() {
                return FirstAttempt::in_loop(input, retry_loop);
            }
        }
        if self.config.max_attempts() == 1 {
            return FirstAttempt::new(self.inner.execute(input, deps, ctx), None);
        }
        let attempt = self.inner.execute(input.clone(), deps, ctx);
        FirstAttempt::new(attempt, Some((input, retry_loop)))
    }
}

impl<A> Retry<A> {
    /// Attempts 2 to `max_attempts`, after the first one failed with `first_error`; with
    /// `None`, attempts 1 to `max_attempts` (traced: each attempt in its span).
    async fn attempts<D>(
        &self,
        first_error: Option<ActionError>,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> Result<A::Output, ActionError>
    where
        D: ?Sized + Sync,
        A: Action<D>,
        A::Input: Clone,
    {
        let mut history = History::new(self);
        let mut attempt = 1;
        if let Some(error) = first_error {
            history.wait_after(error, 1, ctx).await?;
            attempt = 2;
        }
        while attempt < self.config.max_attempts() {
            self.start_attempt(self.name(), attempt, ctx);
            let span = SpanSlot::attempt(self.name(), attempt);
            match InSpan::new(self.inner.execute(input.clone(), deps, ctx), span).await {
                Ok(output) => return Ok(output),
                Err(error) => history.wait_after(error, attempt, ctx).await?,
            }
            attempt += 1;
        }
        self.start_attempt(self.name(), attempt, ctx);
        let span = SpanSlot::attempt(self.name(), attempt);
        match InSpan::new(self.inner.execute(input, deps, ctx), span).await {
            Ok(output) => Ok(output),
            Err(error) => Err(history.give_up(error, GiveUpReason::MaxAttempts)),
        }
    }

    /// Counts attempt number `attempt` of the action `name` and sets it in `ctx`; `execute`
    /// did it for the first.
    fn start_attempt(&self, name: &'static str, attempt: u32, ctx: &ActionContext) {
        if attempt > 1 {
            if metrics::enabled() {
                metrics::count_attempt(&self.attempts, name);
            }
            ctx.set_attempt(attempt);
        }
    }
}

/// The failure side of one retry loop: the errors so far and the delay schedule.
/// Nothing here is touched, or allocated, until an attempt fails.
struct History<'a, A> {
    retry: &'a Retry<A>,
    errors: Vec<ActionError>,
    schedule: Option<backoff::Schedule<'a>>,
}

impl<'a, A> History<'a, A> {
    fn new(retry: &'a Retry<A>) -> Self {
        Self { retry, errors: Vec::new(), schedule: None }
    }

    /// Handles the failure of `attempt`: returns after the backoff wait, or with the error
    /// that ends the loop.
    async fn wait_after(
        &mut self,
        error: ActionError,
        attempt: u32,
        ctx: &ActionContext,
    ) -> Result<(), ActionError> {
        let config = &self.retry.config;
        if error.is_cancelled() {
            // Its kind says Transient, but running it again is exactly what was called off.
            return Err(self.give_up(error, GiveUpReason::Cancelled));
        }
        if !config.should_retry(&error) {
            return Err(self.give_up(error, GiveUpReason::NotRetryable));
        }
        if let Some(budget) = &self.retry.budget
            && let Err(refilled_in) = budget.try_retry()
        {
            metrics::record_budget_exhausted(error.action());
            tracing::debug!(parent: ctx.span(), action = error.action(), attempt, "retry refused by the retry budget");
            let error = error.with_retry_after(refilled_in);
            return Err(self.give_up(error, GiveUpReason::BudgetExhausted));
        }
        let schedule = self.schedule.get_or_insert_with(|| backoff::Schedule::new(config));
        let mut delay = schedule.delay(attempt);
        if let Some(hint) = error.retry_after() {
            delay = delay.max(hint.min(config.max_delay()));
        }
        if ctx.deadline().is_some_and(|deadline| tokio::time::Instant::now() + delay > deadline) {
            return Err(self.give_up(error, GiveUpReason::DeadlineReached));
        }
        let action = error.action();
        let kind = error.kind();
        tracing::debug!(
            parent: ctx.span(),
            action,
            attempt,
            kind = kind.as_str(),
            delay_ms = delay.as_millis() as u64,
            error = %error.chain(),
            "retrying after backoff",
        );
        metrics::record_retry(action, kind);
        ctx.record_retry();
        self.errors.push(error);
        tokio::select! {
            biased;
            () = ctx.cancellation().cancelled() => {
                let last = self.errors.pop().unwrap_or_else(ActionError::cancelled);
                Err(self.give_up(last, GiveUpReason::Cancelled))
            }
            () = tokio::time::sleep(delay) => Ok(()),
        }
    }

    /// Ends the loop with `last`: alone if it was the only attempt and the loop simply did
    /// not retry it, otherwise wrapped in [`AttemptsExhausted`] with every earlier error (a
    /// cancellation or a budget refusal is always wrapped, so that a caller sees the reason).
    /// The kind and the retry-after hint are the last error's.
    fn give_up(&mut self, last: ActionError, reason: GiveUpReason) -> ActionError {
        if self.errors.is_empty()
            && !matches!(reason, GiveUpReason::Cancelled | GiveUpReason::BudgetExhausted)
        {
            return last;
        }
        let kind = last.kind();
        let action = last.action();
        let attempt = last.attempt();
        let job_id = last.job_id();
        let retry_after = last.retry_after();
        let mut errors = std::mem::take(&mut self.errors);
        errors.push(last);
        let mut error = ActionError::new(kind, AttemptsExhausted { attempts: errors, reason })
            .stamped(action, attempt, job_id);
        if reason == GiveUpReason::Cancelled {
            error = error.into_cancelled();
        }
        match retry_after {
            Some(hint) => error.with_retry_after(hint),
            None => error,
        }
    }
}

/// Why a retry loop stopped before succeeding.
///
/// ```
/// use worker_utils::retry::GiveUpReason;
/// assert_eq!(GiveUpReason::BudgetExhausted.as_str(), "budget_exhausted");
/// assert_eq!(serde_json::to_string(&GiveUpReason::MaxAttempts).unwrap(), "\"max_attempts\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    /// Every allowed attempt failed.
    MaxAttempts,
    /// An attempt failed with an error that is not retried.
    NotRetryable,
    /// The next wait would have ended past the job's deadline.
    DeadlineReached,
    /// The job was cancelled during a backoff wait.
    Cancelled,
    /// The retry budget had no retry left.
    BudgetExhausted,
}

impl GiveUpReason {
    /// The snake_case name, as in dead-letter records.
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::MaxAttempts => "max_attempts",
            GiveUpReason::NotRetryable => "not_retryable",
            GiveUpReason::DeadlineReached => "deadline_reached",
            GiveUpReason::Cancelled => "cancelled",
            GiveUpReason::BudgetExhausted => "budget_exhausted",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            GiveUpReason::MaxAttempts => "no attempts left",
            GiveUpReason::NotRetryable => "error not retryable",
            GiveUpReason::DeadlineReached => "deadline reached",
            GiveUpReason::Cancelled => "job cancelled",
            GiveUpReason::BudgetExhausted => "retry budget exhausted",
        }
    }
}

/// A retry loop gave up after more than one attempt, or was cancelled or refused a retry by
/// its budget: every attempt's error, oldest first, and the reason.
///
/// It is the source of the [`ActionError`] a [`Retry`] returns then; its own source is the
/// last attempt's error.
#[derive(Debug)]
pub struct AttemptsExhausted {
    attempts: Vec<ActionError>,
    reason: GiveUpReason,
}

impl AttemptsExhausted {
    /// Every attempt's error, oldest first; never empty.
    pub fn attempts(&self) -> &[ActionError] {
        &self.attempts
    }

    /// Why the loop stopped.
    pub fn reason(&self) -> GiveUpReason {
        self.reason
    }
}

impl std::fmt::Display for AttemptsExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let attempts = self.attempts.len();
        let plural = if attempts == 1 { "" } else { "s" };
        write!(f, "gave up after {attempts} attempt{plural} ({})", self.reason.describe())
    }
}

impl std::error::Error for AttemptsExhausted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.attempts.last().map(|e| e as _)
    }
}
