//! Every argument, in a non-canonical order, every form of the values that have several,
//! and every parameter shape.

use std::sync::LazyLock;
use std::time::Duration;

use worker_utils::circuit_breaker::CircuitBreakerConfig;
use worker_utils::prelude::*;
use worker_utils::retry::RetryBudget;

struct Deps;

fn retryable(error: &ActionError) -> bool {
    !error.to_string().contains("fatal")
}

fn handler(error: ActionError, _: &Deps, _: &ActionContext) -> Result<Vec<u8>, ActionError> {
    Err(error)
}

fn cleanup(_: &ActionError, _: &Deps, _: &ActionContext) {}

#[action(
    timeout = "30s",
    error_handling(handler = handler, cleanup = cleanup),
    name = "fetch",
    total_timeout = "10m",
    retry(
        max_attempts = 5,
        base_delay = 200,
        max_delay = "1m",
        backoff = exponential,
        factor = 3,
        jitter = "equal",
        on = [Transient, System, BusinessLogic],
        when = retryable,
        budget(ratio = 0.5, per_second = 20),
    ),
    circuit_breaker(
        consecutive_failures = 10,
        failure_ratio = 0.5,
        window = "2m",
        min_calls = 20,
        slow_call = "20s",
        slow_call_ratio = 0.9,
        open_for = "1m",
        open_backoff(factor = 2.0, max = "10m"),
        half_open = 2,
        on = [Transient, System],
    ),
)]
async fn fetch_image(url: String, ctx: &ActionContext, deps: &Deps) -> Result<Vec<u8>, ActionError> {
    let _ = (ctx, deps);
    Ok(url.into_bytes())
}

#[action(retry(backoff = fixed, jitter = false), error_handling(cleanup = cleanup))]
async fn fixed(input: (u8, u8), _: &Deps) -> std::io::Result<u8> {
    Ok(input.0 + input.1)
}

#[action(retry(backoff = "linear", jitter = true))]
async fn linear(input: ()) -> Result<(), ActionError> {
    Ok(input)
}

#[action(retry(backoff = decorrelated, budget = false), circuit_breaker)]
async fn decorrelated(_: ()) -> Result<(), ActionError> {
    Ok(())
}

static BREAKER: LazyLock<CircuitBreaker> =
    LazyLock::new(|| CircuitBreaker::new("shared", CircuitBreakerConfig::default()));
static BUDGET: LazyLock<RetryBudget> = LazyLock::new(|| RetryBudget::default().shared());

mod upstream {
    pub(crate) static BREAKER: std::sync::LazyLock<worker_utils::CircuitBreaker> =
        std::sync::LazyLock::new(|| worker_utils::CircuitBreaker::new("upstream", Default::default()));
}

#[action(circuit_breaker = BREAKER, retry(budget = BUDGET), total_timeout = 2000)]
async fn shared(_: ()) -> Result<(), ActionError> {
    Ok(())
}

#[action(circuit_breaker = upstream::BREAKER, timeout = "1s")]
async fn by_module_path(_: ()) -> Result<(), ActionError> {
    Ok(())
}

fn main() {
    let _ = FetchImage::new();
    let _ = Fixed::new();
    let _ = Linear::new();
    let _ = Decorrelated::new();
    let _ = ByModulePath::new();
    // 5 × 30 s + 4 × 1 m (a retry-after hint may stretch each wait to `max_delay`).
    assert_eq!(FetchImage::WORST_CASE, Some(Duration::from_secs(150 + 240)));
    assert_eq!(Fixed::WORST_CASE, None);
    assert_eq!(Shared::WORST_CASE, Some(Duration::from_secs(2)));
}
