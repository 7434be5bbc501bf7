//! Success-path cost per call of the wrappers, side by side with the bare call and with
//! the retry layers users would otherwise pick (tower's `Retry`, backon's `retry`).
//!
//! Every future completes on its first poll, so each row builds its future in place and
//! polls it once with a no-op waker (`poll_once!`): no executor and no move of the future is
//! added to any row.
//!
//! Run: `cargo bench -p worker-utils --bench wrappers`
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tower::{Service, ServiceExt as _};
use worker_utils::circuit_breaker::CircuitBreakerConfig;
use worker_utils::prelude::*;

/// Polls a future once, pinned where it was built.
macro_rules! poll_once {
    ($future:expr) => {{
        let future = std::pin::pin!($future);
        match future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }};
}

/// The trivial async fn every row calls.
async fn add_one(x: u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

/// The same stack as `AddOne.retry(RetryConfig::default()).error_handling()`, by macro.
#[worker_utils::action(retry, error_handling)]
async fn add_one_macro(x: u64) -> Result<u64, std::io::Error> {
    Ok(x + 1) // the body of `add_one`, so both rows have the same number of async layers
}

/// Every wrapper, by macro: the same stack as the `worker_utils_all_wrappers` row.
#[worker_utils::action(error_handling, circuit_breaker, total_timeout = "2m", retry, timeout = "30s")]
async fn add_one_all_macro(x: u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

struct AddOne;

impl Action for AddOne {
    type Input = u64;
    type Output = u64;

    fn name(&self) -> &'static str {
        "add_one"
    }

    async fn execute(&self, input: u64, _: &(), _: &ActionContext) -> Result<u64, ActionError> {
        Ok(add_one(input).await?)
    }
}

/// tower's retry policy equivalent to our default: 3 attempts, exponential from 1 s.
#[derive(Clone)]
struct ExponentialPolicy {
    attempts_left: u32,
    delay: Duration,
}

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for ExponentialPolicy {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(_) if self.attempts_left > 1 => {
                self.attempts_left -= 1;
                let delay = self.delay;
                self.delay *= 2;
                Some(tokio::time::sleep(delay))
            }
            Err(_) => None,
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

fn success_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("success_path");
    let ctx = ActionContext::detached();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let _guard = runtime.enter();

    group.bench_function("bare_fn", |b| b.iter(|| poll_once!(add_one(black_box(1)))));

    let ours = AddOne.retry(RetryConfig::default()).error_handling();
    group.bench_function("worker_utils_error_handling_retry", |b| {
        b.iter(|| poll_once!(ours.execute(black_box(1), &(), &ctx)))
    });

    // Without the retry budget (on by default), as tower's and backon's policies here.
    let no_budget_config = RetryConfig::builder().no_budget().build().expect("valid config");
    let no_budget = AddOne.retry(no_budget_config).error_handling();
    group.bench_function("worker_utils_error_handling_retry_no_budget", |b| {
        b.iter(|| poll_once!(no_budget.execute(black_box(1), &(), &ctx)))
    });

    let by_macro = AddOneMacro::new();
    group.bench_function("worker_utils_action_macro_error_handling_retry", |b| {
        b.iter(|| poll_once!(by_macro.execute(black_box(1), &(), &ctx)))
    });

    let retry_only = AddOne.retry(RetryConfig::default());
    group.bench_function("worker_utils_retry", |b| {
        b.iter(|| poll_once!(retry_only.execute(black_box(1), &(), &ctx)))
    });

    let error_handling_only = AddOne.error_handling();
    group.bench_function("worker_utils_error_handling", |b| {
        b.iter(|| poll_once!(error_handling_only.execute(black_box(1), &(), &ctx)))
    });

    group.bench_function("action_trait_bare", |b| {
        b.iter(|| poll_once!(AddOne.execute(black_box(1), &(), &ctx)))
    });

    let with_timeout = AddOne.timeout(Duration::from_secs(30)).retry(RetryConfig::default()).error_handling();
    group.bench_function("worker_utils_error_handling_retry_timeout", |b| {
        b.iter(|| poll_once!(with_timeout.execute(black_box(1), &(), &ctx)))
    });

    let breaker_only = AddOne.circuit_breaker(CircuitBreaker::new("bench", CircuitBreakerConfig::default()));
    group.bench_function("worker_utils_circuit_breaker", |b| {
        b.iter(|| poll_once!(breaker_only.execute(black_box(1), &(), &ctx)))
    });

    // Every wrapper in the canonical order: error handling → breaker → total timeout →
    // retry → per-attempt timeout.
    let everything = AddOne
        .timeout(Duration::from_secs(30))
        .retry(RetryConfig::default())
        .total_timeout(Duration::from_secs(120))
        .circuit_breaker(CircuitBreaker::new("bench_all", CircuitBreakerConfig::default()))
        .error_handling();
    group.bench_function("worker_utils_all_wrappers", |b| {
        b.iter(|| poll_once!(everything.execute(black_box(1), &(), &ctx)))
    });

    let everything_by_macro = AddOneAllMacro::new();
    group.bench_function("worker_utils_action_macro_all_wrappers", |b| {
        b.iter(|| poll_once!(everything_by_macro.execute(black_box(1), &(), &ctx)))
    });

    let mut tower_retry = tower::retry::Retry::new(
        ExponentialPolicy { attempts_left: 3, delay: Duration::from_secs(1) },
        tower::service_fn(add_one),
    );
    group.bench_function("tower_retry", |b| {
        b.iter(|| {
            let svc = poll_once!(tower_retry.ready())?.ok()?;
            poll_once!(svc.call(black_box(1)))
        })
    });

    group.bench_function("backon_retry", |b| {
        let policy = backon::ExponentialBuilder::default().with_max_times(2).with_jitter();
        b.iter(|| {
            let x = black_box(1);
            poll_once!(backon::Retryable::retry(|| add_one(x), policy))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = success_path
}
criterion_main!(benches);
