//! Macro output is lint-clean: every form of `#[action]`, `#[worker]` and `#[derive(Classify)]` compiles
//! under `deny(warnings, clippy::all, clippy::pedantic)` and the crate's documentation
//! lints. `cargo clippy --all-targets` checks the clippy part; `cargo test` the rest.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

use std::sync::LazyLock;
use std::time::Duration;

use worker_utils::circuit_breaker::CircuitBreakerConfig;
use worker_utils::prelude::*;
use worker_utils::retry::RetryBudget;

/// Dependencies of the steps.
#[derive(Debug)]
pub struct Deps {
    /// Fails the first attempts.
    pub failures: u32,
}

/// Errors of the steps.
#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient)]
pub enum StepError {
    /// Try again.
    #[error("busy")]
    Busy {
        /// Wait this long.
        delay: Duration,
    },
    /// Maybe later.
    #[error("later")]
    #[classify(retry_after = 0)]
    Later(Option<Duration>),
    /// Never.
    #[error("bad input")]
    #[classify(permanent)]
    Bad,
    /// A rule said no.
    #[error("rejected")]
    #[classify(business_logic)]
    Rejected,
}

/// A classified struct error.
#[derive(Debug, thiserror::Error, Classify)]
#[classify(system, retry_after = delay)]
#[error("out of memory")]
pub struct OutOfMemory {
    delay: Duration,
}

/// An empty error enum.
#[derive(Debug, thiserror::Error, Classify)]
pub enum Never {}

/// Every wrapper, with deps and context.
///
/// # Errors
/// `Busy` while `deps.failures` attempts have not been used up.
#[action(
    retry(max_attempts = 3, base_delay = "10ms", max_delay = "1s", jitter = "none"),
    error_handling,
    timeout = "5s",
    validate = below_limit
)]
pub async fn full(input: u32, deps: &Deps, ctx: &ActionContext) -> Result<u32, StepError> {
    tokio::task::yield_now().await;
    if ctx.attempt() <= deps.failures {
        return Err(StepError::Busy { delay: Duration::ZERO });
    }
    Ok(input)
}

/// Hooks, a predicate and a validator.
///
/// # Errors
/// Never.
#[action(
    validate = not_empty,
    retry(backoff = linear, on = [Transient], when = always),
    error_handling(handler = recover, cleanup = clean_up)
)]
pub async fn hooked(input: String) -> Result<usize, ActionError> {
    tokio::task::yield_now().await;
    Ok(input.len())
}

fn not_empty(input: &str) -> Result<(), &'static str> {
    if input.is_empty() { Err("empty") } else { Ok(()) }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "a validator takes the input by reference, whatever its type"
)]
fn below_limit(input: &u32, deps: &Deps) -> Result<(), String> {
    if *input < 1000 + deps.failures { Ok(()) } else { Err(format!("{input} is too large")) }
}

fn always(_: &ActionError) -> bool {
    true
}

fn recover<D: ?Sized>(error: ActionError, _: &D, _: &ActionContext) -> Result<usize, ActionError> {
    if error.kind() == ErrorKind::Permanent { Err(error) } else { Ok(0) }
}

fn clean_up<D: ?Sized>(_: &ActionError, _: &D, _: &ActionContext) {}

/// A breaker shared by the resilient steps.
pub static UPSTREAM: LazyLock<CircuitBreaker> =
    LazyLock::new(|| CircuitBreaker::new("upstream", CircuitBreakerConfig::default()));

/// A retry budget shared by the resilient steps.
pub static UPSTREAM_BUDGET: LazyLock<RetryBudget> = LazyLock::new(|| RetryBudget::default().shared());

/// Its own breaker and budget, and a total timeout.
///
/// # Errors
/// Never.
#[action(
    circuit_breaker(
        consecutive_failures = false,
        failure_ratio = 0.5,
        window = "1m",
        min_calls = 5,
        slow_call = "1s",
        slow_call_ratio = 0.5,
        open_for = "10s",
        open_backoff(factor = 2, max = "1m"),
        half_open = 2,
        on = [Transient],
    ),
    total_timeout = "10s",
    retry(budget(ratio = 0.1, per_second = 5)),
    timeout = "2s"
)]
pub async fn resilient(input: u32) -> Result<u32, ActionError> {
    tokio::task::yield_now().await;
    Ok(input)
}

/// A shared breaker and budget.
///
/// # Errors
/// Never.
#[action(circuit_breaker = UPSTREAM, retry(budget = UPSTREAM_BUDGET), error_handling)]
pub async fn shared(input: u32) -> Result<u32, ActionError> {
    tokio::task::yield_now().await;
    Ok(input)
}

/// No retry budget.
///
/// # Errors
/// Never.
#[action(retry(budget = false), circuit_breaker)]
pub async fn unbudgeted(input: u32) -> Result<u32, ActionError> {
    tokio::task::yield_now().await;
    Ok(input)
}

/// A plain action: no wrappers, an aliased `Result`.
///
/// # Errors
/// Never.
#[action]
pub async fn bare(input: ()) -> std::io::Result<()> {
    tokio::task::yield_now().await;
    Ok(input)
}

/// A three-step worker with deps, a concurrency, a redelivery policy and alert rules.
#[worker(
    queue = "lint",
    deps = Deps,
    pipeline = [full, to_text, hooked],
    concurrency = 4,
    redeliver(
        max_deliveries = 4,
        base_delay = "2s",
        max_delay = "1h",
        backoff = exponential,
        factor = 1.5,
        jitter = full,
        on = [Transient, System]
    ),
    alert(failure_rate = 0.5, window = "2m", min_calls = 20),
    alert(dead_letter_rate = 0.1, resolve_below = 0.05, action = to_text, name = "text-dead-letters")
)]
#[derive(Debug)]
pub struct FullWorker;

/// Turns a number into text.
///
/// # Errors
/// Never.
#[action]
pub async fn to_text(input: u32) -> Result<String, ActionError> {
    tokio::task::yield_now().await;
    Ok(input.to_string())
}

/// A one-step worker without deps, through a module path, that never redelivers.
#[worker(queue = "lint-bare", pipeline = [steps::bare], redeliver = false)]
#[derive(Debug)]
pub struct BareWorker {
    /// A field, to show that the struct is kept as written.
    pub label: &'static str,
}

/// Steps in a module.
pub mod steps {
    use worker_utils::prelude::*;

    /// A step in a module.
    ///
    /// # Errors
    /// Never.
    #[action]
    pub async fn bare(input: ()) -> Result<(), ActionError> {
        tokio::task::yield_now().await;
        Ok(input)
    }
}

#[test]
fn lint_clean_workers_build() {
    use worker_utils::worker::Worker;
    assert_eq!((FullWorker.queue(), FullWorker.concurrency()), ("lint", 4));
    let bare = BareWorker { label: "bare" };
    assert_eq!((bare.queue(), bare.concurrency(), bare.label), ("lint-bare", 1, "bare"));
    assert_eq!((FullWorker.redelivery().max_deliveries(), bare.redelivery().max_deliveries()), (4, 1));
    let runtime = worker_utils::testing::paused_runtime();
    runtime.block_on(async {
        let ctx = ActionContext::detached();
        let out = FullWorker.pipeline().execute(7, &Deps { failures: 0 }, &ctx).await.unwrap();
        assert_eq!(out, 1);
        bare.pipeline().execute((), &(), &ctx).await.unwrap();
    });
}

#[test]
fn lint_clean_actions_run() {
    let runtime = worker_utils::testing::paused_runtime();
    runtime.block_on(async {
        let ctx = ActionContext::detached();
        assert_eq!(Full::new().execute(4, &Deps { failures: 2 }, &ctx).await.unwrap(), 4);
        assert_eq!(Hooked::default().execute("ab".to_owned(), &(), &ctx).await.unwrap(), 2);
        Bare::new().execute((), &(), &ctx).await.unwrap();
        assert_eq!(Resilient::new().execute(1, &(), &ctx).await.unwrap(), 1);
        assert_eq!(Shared::new().execute(2, &(), &ctx).await.unwrap(), 2);
        assert_eq!(Unbudgeted::new().execute(3, &(), &ctx).await.unwrap(), 3);
    });
    assert_eq!(OutOfMemory { delay: Duration::from_secs(1) }.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(StepError::Later(None).retry_after(), None);
    assert_eq!(StepError::Rejected.kind(), ErrorKind::BusinessLogic);
    // 3 attempts × 5 s + 2 retries × `max_delay`.
    assert_eq!(Full::WORST_CASE, Some(Duration::from_secs(3 * 5 + 2)));
    assert_eq!(Resilient::WORST_CASE, Some(Duration::from_secs(10)));
}
