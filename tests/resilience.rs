//! Resilience beyond retry: per-attempt and total timeouts, the retry budget, and the
//! worst-case retry window checked against the queue's lease.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use worker_utils::prelude::*;
use worker_utils::queue::MemoryQueue;
use worker_utils::retry::{AttemptsExhausted, GiveUpReason, RetryBudget};
use worker_utils::testing::{FailTimes, Sleep};
use worker_utils::timeout::{Elapsed, TimeoutScope};
use worker_utils::worker::{Runner, Worker};

const SEC: Duration = Duration::from_secs(1);

fn fast_retry(attempts: u32) -> worker_utils::retry::RetryConfigBuilder {
    RetryConfig::builder().max_attempts(attempts).base_delay(SEC).max_delay(SEC).jitter(false)
}

#[tokio::test(start_paused = true)]
async fn a_per_attempt_timeout_is_retried_and_a_total_one_ends_the_call() {
    // 10 s attempts, 3 s per-attempt limit, 3 attempts with 1 s waits: 3 + 1 + 3 + 1 + 3.
    let per_attempt = Sleep::new(10 * SEC).timeout(3 * SEC).retry(fast_retry(3).build().unwrap());
    let started = Instant::now();
    let err = per_attempt.execute((), &(), &ActionContext::detached()).await.unwrap_err();
    assert_eq!(started.elapsed(), 11 * SEC);
    let exhausted = err.downcast_ref::<AttemptsExhausted>().unwrap();
    assert_eq!(exhausted.attempts().len(), 3);
    let scopes: Vec<_> =
        exhausted.attempts().iter().map(|e| e.downcast_ref::<Elapsed>().unwrap().scope()).collect();
    assert_eq!(scopes, [TimeoutScope::Attempt; 3]);

    // The same with a 5 s total limit: the second attempt is cut at 5 s.
    let total =
        Sleep::new(10 * SEC).timeout(3 * SEC).retry(fast_retry(3).build().unwrap()).total_timeout(5 * SEC);
    let started = Instant::now();
    let err = total.execute((), &(), &ActionContext::detached()).await.unwrap_err();
    assert_eq!(started.elapsed(), 5 * SEC);
    assert_eq!(err.kind(), ErrorKind::Transient);
    let elapsed = err.downcast_ref::<Elapsed>().unwrap();
    assert_eq!((elapsed.scope(), elapsed.limit()), (TimeoutScope::Total, 5 * SEC));
}

#[test]
fn a_call_that_finishes_without_waiting_arms_no_timer() {
    // No tokio runtime here: arming a timer would panic, so the call must not arm one.
    use futures_util::FutureExt as _;
    let quick = FailTimes::new(0, ErrorKind::Transient).timeout(3 * SEC).total_timeout(10 * SEC);
    let result = quick.execute(7_u32, &(), &ActionContext::detached()).now_or_never();
    assert_eq!(result.expect("finished on its first poll").unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_call_exactly_as_long_as_its_limit_finishes() {
    let slow = Sleep::new(5 * SEC).timeout(5 * SEC);
    let started = Instant::now();
    slow.execute((), &(), &ActionContext::detached()).await.unwrap();
    assert_eq!(started.elapsed(), 5 * SEC, "the call wins a tie with its timer");
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_budget_stops_retrying_and_refills_with_time() {
    // No ratio, one retry per second as the floor.
    let budget = RetryBudget::new(0.0, 1).unwrap();
    let retry = FailTimes::new(u32::MAX, ErrorKind::Transient).retry(
        RetryConfig::builder()
            .max_attempts(5)
            .base_delay(Duration::from_millis(10))
            .budget(budget)
            .build()
            .unwrap(),
    );
    let ctx = ActionContext::detached();

    let err = retry.execute(1_u8, &(), &ctx).await.unwrap_err();
    let exhausted = err.downcast_ref::<AttemptsExhausted>().unwrap();
    assert_eq!(exhausted.reason(), GiveUpReason::BudgetExhausted);
    assert_eq!(exhausted.attempts().len(), 2, "one retry allowed, the second suppressed");

    // Still within the same second: no retry at all.
    let calls = retry.inner().calls();
    let err = retry.execute(1_u8, &(), &ctx).await.unwrap_err();
    assert_eq!(retry.inner().calls(), calls + 1);
    let refused = err.downcast_ref::<AttemptsExhausted>().expect("the refusal is marked");
    assert_eq!((refused.attempts().len(), refused.reason()), (1, GiveUpReason::BudgetExhausted));
    assert!(err.retry_after().is_some_and(|hint| hint <= 10 * SEC), "a hint for the queue: {err:?}");

    // Seconds later the floor has accrued again.
    tokio::time::sleep(3 * SEC).await;
    let calls = retry.inner().calls();
    retry.execute(1_u8, &(), &ctx).await.unwrap_err();
    assert!(retry.inner().calls() - calls >= 3, "retries allowed again");
}

#[tokio::test(start_paused = true)]
async fn the_budget_grows_with_successful_traffic() {
    // 50 % of calls, no floor: 10 healthy calls earn 5 retries.
    let budget = RetryBudget::new(0.5, 0).unwrap();
    let config = RetryConfig::builder().max_attempts(10).base_delay(Duration::from_millis(1)).budget(budget);
    let retry = FailTimes::new(0, ErrorKind::Transient).retry(config.clone().build().unwrap());
    for _ in 0..10 {
        retry.execute(1_u8, &(), &ActionContext::detached()).await.unwrap();
    }
    assert_eq!(retry.inner().calls(), 10);

    // A shared budget lets one action spend what another earned.
    let shared = RetryBudget::new(0.5, 0).unwrap().shared();
    let healthy =
        FailTimes::new(0, ErrorKind::Transient).retry(config.clone().budget(shared.clone()).build().unwrap());
    let failing =
        FailTimes::new(u32::MAX, ErrorKind::Transient).retry(config.budget(shared).build().unwrap());
    for _ in 0..10 {
        healthy.execute(1_u8, &(), &ActionContext::detached()).await.unwrap();
    }
    failing.execute(1_u8, &(), &ActionContext::detached()).await.unwrap_err();
    assert_eq!(failing.inner().calls(), 1 + 5, "the first call plus the five retries earned");
}

#[test]
fn the_budget_can_be_turned_off_and_rejects_bad_ratios() {
    assert!(RetryConfig::default().budget().is_some(), "on by default");
    assert!(RetryConfig::builder().no_budget().build().unwrap().budget().is_none());
    for ratio in [-0.1, f64::NAN, f64::INFINITY] {
        assert_eq!(RetryBudget::new(ratio, 1).unwrap_err().field(), "budget.ratio");
    }
}

#[test]
fn worst_case_composes_through_the_wrappers() {
    let attempt = Sleep::new(SEC).timeout(2 * SEC);
    assert_eq!(Action::<()>::worst_case(&attempt), Some(2 * SEC));
    assert_eq!(Action::<()>::worst_case(&Sleep::new(SEC)), None, "no timeout: unbounded");

    // 3 attempts × 2 s + 2 waits of at most max_delay (5 s).
    let retried = Sleep::new(SEC)
        .timeout(2 * SEC)
        .retry(RetryConfig::builder().max_attempts(3).max_delay(5 * SEC).build().unwrap())
        .error_handling();
    assert_eq!(Action::<()>::worst_case(&retried), Some(16 * SEC));
    let capped = Sleep::new(SEC).timeout(2 * SEC).retry(RetryConfig::default()).total_timeout(10 * SEC);
    assert_eq!(Action::<()>::worst_case(&capped), Some(10 * SEC));
}

/// A worker whose one step can run for 3 × 10 s + 2 × 30 s = 90 s.
struct Slow;

impl Worker for Slow {
    type Deps = ();
    type Pipeline = Retry<Timeout<Sleep>>;

    fn queue(&self) -> &str {
        "slow"
    }

    fn pipeline(&self) -> Self::Pipeline {
        Sleep::new(SEC).timeout(10 * SEC).retry(RetryConfig::default())
    }
}

#[test]
fn a_runner_refuses_a_pipeline_that_can_outlive_the_lease() {
    let short = Arc::new(MemoryQueue::builder("slow").lease(60 * SEC).build().unwrap());
    let err = Runner::builder(Slow, short, ()).build().unwrap_err();
    assert_eq!(err.field(), "lease");
    let message = err.to_string();
    assert!(message.contains("action `sleep` can run for up to 90s"), "{message}");
    assert!(message.contains("queue `slow` leases a job for 60s"), "{message}");

    let long = Arc::new(MemoryQueue::builder("slow").lease(91 * SEC).build().unwrap());
    assert!(Runner::builder(Slow, long, ()).build().is_ok());
}
