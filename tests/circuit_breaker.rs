//! The circuit breaker's state machine on tokio's paused clock: what opens it, what it
//! rejects, how it probes its way back, and that cancelled or panicking probes cannot
//! wedge it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, LazyLock};
use std::time::Duration;

use futures_util::FutureExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokio::time::Instant;
use tracing_subscriber::layer::SubscriberExt;
use worker_utils::circuit_breaker::{
    Breaker, CircuitBreakerConfig, CircuitBreakerConfigBuilder, CircuitState, SlidingWindow,
};
use worker_utils::prelude::*;
use worker_utils::testing::{FailTimes, Mock, Panics, Sleep, paused_runtime};
use worker_utils_tests::{CountingAllocator, Events, allocations};

const SEC: Duration = Duration::from_secs(1);
const OK: Option<ErrorKind> = None;
const FAIL: Option<ErrorKind> = Some(ErrorKind::Transient);

type Scripted = Mock<fn(Option<ErrorKind>) -> Result<(), ActionError>, Option<ErrorKind>, ()>;

/// An action whose input says how it ends: `None` succeeds, `Some(kind)` fails with `kind`.
fn scripted() -> Scripted {
    let respond: fn(Option<ErrorKind>) -> Result<(), ActionError> = |outcome| match outcome {
        None => Ok(()),
        Some(kind) => Err(ActionError::new(kind, std::io::Error::other("scripted failure"))),
    };
    Mock::new(respond)
}

/// Only the rules a test names: no consecutive-failure rule, no ratio, unless set.
fn bare() -> CircuitBreakerConfigBuilder {
    CircuitBreakerConfig::builder().no_consecutive_failures().no_failure_ratio()
}

fn breaker(name: &'static str, config: CircuitBreakerConfigBuilder) -> CircuitBreaker {
    CircuitBreaker::new(name, config.build().unwrap())
}

async fn run(action: &Breaker<Scripted>, outcomes: &[Option<ErrorKind>]) {
    let ctx = ActionContext::detached();
    for &outcome in outcomes {
        let result = action.execute(outcome, &(), &ctx).await;
        assert!(result.is_err() == outcome.is_some(), "{result:?}");
    }
}

fn open_error(result: Result<impl std::fmt::Debug, ActionError>) -> (CircuitOpen, ActionError) {
    let err = result.unwrap_err();
    let open = *err.downcast_ref::<CircuitOpen>().unwrap_or_else(|| panic!("not CircuitOpen: {err:?}"));
    (open, err)
}

/// A call that takes `delay` and counts its calls.
#[derive(Debug, Default)]
struct Slow {
    delay: Duration,
    calls: AtomicU32,
}

impl Action for Slow {
    type Input = ();
    type Output = ();

    fn name(&self) -> &'static str {
        "slow"
    }

    async fn execute(&self, (): (), _: &(), _: &ActionContext) -> Result<(), ActionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn opens_on_consecutive_failures_and_a_success_resets_the_count() {
    let b = breaker("consecutive", bare().consecutive_failures(3));
    let action = scripted().circuit_breaker(b.clone());

    run(&action, &[FAIL, FAIL, OK, FAIL, FAIL]).await;
    assert_eq!(b.state(), CircuitState::Closed, "the success reset the run of failures");
    run(&action, &[FAIL]).await;
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(action.inner().calls(), 6);
}

#[tokio::test(start_paused = true)]
async fn successes_counted_without_the_lock_still_fill_the_window_in_order() {
    // Once the window holds min_calls outcomes, successes skip the lock; they must still
    // push older outcomes out of the window before the next failure is judged.
    let b = breaker(
        "lock-free successes",
        bare().failure_ratio(0.5).window(SlidingWindow::Calls(4)).min_calls(2),
    );
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[OK, OK]).await; // the window is warm
    run(&action, &[OK; 10]).await; // counted without the lock
    run(&action, &[FAIL]).await; // [ok ok ok fail]: 1 of 4
    assert_eq!(b.state(), CircuitState::Closed);
    run(&action, &[OK, FAIL]).await; // [ok fail ok fail]: 2 of 4
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(action.inner().calls(), 15);
}

#[tokio::test(start_paused = true)]
async fn the_failure_ratio_counts_only_from_min_calls() {
    let config = || bare().failure_ratio(0.5).window(SlidingWindow::Calls(10)).min_calls(6);

    // Five failures out of five calls: 100 %, but under min_calls.
    let b = breaker("ratio", config());
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[FAIL; 5]).await;
    assert_eq!(b.state(), CircuitState::Closed);
    // The sixth call, even a success, brings the window to min_calls at 5/6 failed.
    run(&action, &[OK]).await;
    assert_eq!(b.state(), CircuitState::Open);

    // Below the ratio, any number of calls leave it closed: 4 of 10 failed.
    let b = breaker("ratio-low", config());
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[OK, FAIL, OK, FAIL, OK, OK, FAIL, OK, OK, FAIL]).await;
    assert_eq!(b.state(), CircuitState::Closed);
    // At exactly the ratio it opens: the oldest call (a success) leaves the window, which
    // now holds 5 of 10 failed.
    run(&action, &[FAIL]).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_count_window_forgets_calls_older_than_its_size() {
    let b = breaker("count-window", bare().failure_ratio(0.75).window(SlidingWindow::Calls(4)).min_calls(4));
    let action = scripted().circuit_breaker(b.clone());

    run(&action, &[FAIL, FAIL, OK, OK, OK, OK]).await;
    // Window: OK OK F F = 2/4. Over all calls it would be 4/8.
    run(&action, &[FAIL, FAIL]).await;
    assert_eq!(b.state(), CircuitState::Closed);
    // Window: OK F F F = 3/4, although over all calls it is only 5/9.
    run(&action, &[FAIL]).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_time_window_counts_the_calls_of_the_last_period() {
    let config = || bare().failure_ratio(0.5).window(SlidingWindow::Time(10 * SEC)).min_calls(3);

    // Two failures at t=0 still count at t=9 s: 2 of 3 failed.
    let b = breaker("time-window-in", config());
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[FAIL, FAIL]).await;
    tokio::time::advance(9 * SEC).await;
    run(&action, &[OK]).await;
    assert_eq!(b.state(), CircuitState::Open);

    // At t=10 s they have left the window: 1 of 3 failed, where all calls would be 3 of 5.
    let b = breaker("time-window-out", config());
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[FAIL, FAIL]).await;
    tokio::time::advance(10 * SEC).await;
    run(&action, &[OK, OK, FAIL]).await;
    assert_eq!(b.state(), CircuitState::Closed);
    // One more failure in the same period: 2 of 4.
    tokio::time::advance(SEC / 2).await;
    run(&action, &[FAIL]).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_open_the_breaker_at_the_slow_call_ratio() {
    let b = breaker(
        "slow",
        bare().slow_call_threshold(SEC).slow_call_ratio(0.5).window(SlidingWindow::Calls(4)).min_calls(4),
    );
    let fast = scripted().circuit_breaker(b.clone());
    let at_threshold = Sleep::new(SEC).circuit_breaker(b.clone());
    let slow = Sleep::new(2 * SEC).circuit_breaker(b.clone());
    let ctx = ActionContext::detached();

    run(&fast, &[OK]).await;
    at_threshold.execute((), &(), &ctx).await.unwrap(); // exactly 1 s: not slower, not slow
    slow.execute((), &(), &ctx).await.unwrap();
    run(&fast, &[OK]).await;
    assert_eq!(b.state(), CircuitState::Closed, "1 slow call of 4");
    slow.execute((), &(), &ctx).await.unwrap();
    assert_eq!(b.state(), CircuitState::Open, "window: 1 s, 2 s, fast, 2 s = 2 slow of 4");

    // A slow probe, even a successful one, opens it again; a fast one closes it.
    tokio::time::advance(30 * SEC).await;
    slow.execute((), &(), &ctx).await.unwrap();
    assert_eq!(b.state(), CircuitState::Open);
    tokio::time::advance(30 * SEC).await;
    run(&fast, &[OK]).await;
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn rejected_calls_fail_fast_with_the_remaining_time_and_are_not_counted() {
    let b = breaker("payments", bare().consecutive_failures(2).open_for(30 * SEC));
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[FAIL, FAIL]).await;
    assert_eq!(b.state(), CircuitState::Open);

    tokio::time::advance(12 * SEC).await;
    let started = Instant::now();
    for _ in 0..50 {
        let (open, err) = open_error(action.execute(OK, &(), &ActionContext::detached()).await);
        assert_eq!(open.name(), "payments");
        assert_eq!(open.remaining(), 18 * SEC);
        assert!(!open.is_half_open());
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert_eq!(err.retry_after(), Some(18 * SEC));
        assert_eq!(err.action(), "mock");
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "no waiting");
    assert_eq!(action.inner().calls(), 2, "rejected calls never reach the action");

    // After the open duration a probe closes it; had the 50 rejections counted as failures,
    // the next failure would open it again.
    tokio::time::advance(18 * SEC).await;
    run(&action, &[OK, FAIL]).await;
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn open_turns_half_open_when_the_open_duration_has_passed() {
    let b = breaker("half-open", bare().consecutive_failures(1).open_for(10 * SEC));
    b.try_acquire().unwrap().failure();

    tokio::time::advance(10 * SEC - Duration::from_millis(1)).await;
    let open = b.try_acquire().unwrap_err();
    assert_eq!(open.remaining(), Duration::from_millis(1));
    assert_eq!(b.state(), CircuitState::Open);

    tokio::time::advance(Duration::from_millis(1)).await;
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    assert_eq!(b.state(), CircuitState::HalfOpen);
    // The only permit is taken: others are rejected, without a retry-after hint.
    let busy = b.try_acquire().unwrap_err();
    assert!(busy.is_half_open());
    assert_eq!(busy.remaining(), Duration::ZERO);
    assert_eq!(ActionError::from(busy).retry_after(), None);
    assert_eq!(busy.to_string(), "circuit `half-open` is half-open and its probes are all in flight");

    probe.success();
    assert_eq!(b.state(), CircuitState::Closed);
    assert!(!b.try_acquire().unwrap().is_probe());
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_through_exactly_its_permits_to_concurrent_callers() {
    let b = breaker("concurrent", bare().consecutive_failures(1).open_for(SEC).half_open_permits(3));
    b.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;

    let action = Arc::new(Slow { delay: 5 * SEC, ..Slow::default() }.circuit_breaker(b.clone()));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let action = Arc::clone(&action);
            tokio::spawn(async move { action.execute((), &(), &ActionContext::detached()).await })
        })
        .collect();
    let mut admitted = 0;
    let mut rejected = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(err) => {
                assert!(err.downcast_ref::<CircuitOpen>().unwrap().is_half_open());
                rejected += 1;
            }
        }
    }
    assert_eq!((admitted, rejected), (3, 7));
    assert_eq!(action.inner().calls.load(Ordering::SeqCst), 3);
    assert_eq!(b.state(), CircuitState::Closed, "three successful probes close it");
}

#[test]
fn half_open_permits_hold_across_threads() {
    const THREADS: usize = 16;
    let b = breaker(
        "threads",
        bare().consecutive_failures(1).open_for(Duration::from_millis(1)).half_open_permits(4),
    );
    b.try_acquire().unwrap().failure();
    std::thread::sleep(Duration::from_millis(5));

    let start = Barrier::new(THREADS);
    let done = Barrier::new(THREADS);
    let admitted = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start.wait();
                let permit = b.try_acquire();
                if permit.is_ok() {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
                // Hold every permit until all threads have tried.
                done.wait();
                if let Ok(permit) = permit {
                    permit.success();
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::SeqCst), 4);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_longer_and_closing_resets_the_backoff() {
    let b = breaker(
        "backoff",
        bare().consecutive_failures(1).open_for(10 * SEC).open_backoff(2.0, 25 * SEC).half_open_permits(2),
    );
    let action = scripted().circuit_breaker(b.clone());
    let remaining = || b.try_acquire().unwrap_err().remaining();

    run(&action, &[FAIL]).await;
    assert_eq!(remaining(), 10 * SEC);
    tokio::time::advance(10 * SEC).await;
    run(&action, &[FAIL]).await; // probe fails: 2 × 10 s
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(remaining(), 20 * SEC);
    tokio::time::advance(20 * SEC).await;
    run(&action, &[FAIL]).await; // 40 s, capped at 25 s
    assert_eq!(remaining(), 25 * SEC);
    tokio::time::advance(25 * SEC).await;

    // Two permits: one success is not enough to close.
    run(&action, &[OK]).await;
    assert_eq!(b.state(), CircuitState::HalfOpen);
    run(&action, &[OK]).await;
    assert_eq!(b.state(), CircuitState::Closed);

    // Closed again, the next opening starts from open_for.
    run(&action, &[FAIL]).await;
    assert_eq!(remaining(), 10 * SEC);
}

#[tokio::test(start_paused = true)]
async fn a_probe_cancelled_by_a_timeout_counts_as_a_failure() {
    let b = breaker("cancelled", bare().consecutive_failures(1).open_for(10 * SEC));
    b.try_acquire().unwrap().failure();
    tokio::time::advance(10 * SEC).await;

    // The timeout outside the breaker drops the probe's future after 1 s.
    let probe = Sleep::new(60 * SEC).circuit_breaker(b.clone()).total_timeout(SEC);
    let err = probe.execute((), &(), &ActionContext::detached()).await.unwrap_err();
    assert!(err.downcast_ref::<worker_utils::timeout::Elapsed>().is_some());

    // Not wedged half-open: open again for the full duration, and no second probe now.
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.try_acquire().unwrap_err().remaining(), 10 * SEC);
    tokio::time::advance(10 * SEC).await;
    assert!(b.try_acquire().unwrap().is_probe());
}

#[tokio::test(start_paused = true)]
async fn a_probe_future_dropped_mid_call_counts_as_a_failure() {
    let b = breaker("dropped", bare().consecutive_failures(1).open_for(SEC));
    b.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;

    let action = Slow { delay: 60 * SEC, ..Slow::default() }.circuit_breaker(b.clone());
    let ctx = ActionContext::detached();
    {
        let call = action.execute((), &(), &ctx);
        tokio::pin!(call);
        assert!(call.as_mut().now_or_never().is_none(), "still sleeping");
        assert_eq!(b.state(), CircuitState::HalfOpen);
    }
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(action.inner().calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_probe_counts_as_a_failure() {
    let b = breaker("panics", bare().consecutive_failures(1).open_for(SEC));
    b.try_acquire().unwrap().failure();

    // A panic that unwinds out of a task.
    tokio::time::advance(SEC).await;
    let action = Arc::new(Panics::<()>::new("probe exploded").circuit_breaker(b.clone()));
    let task = {
        let action = Arc::clone(&action);
        tokio::spawn(async move { action.execute((), &(), &ActionContext::detached()).await })
    };
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(b.state(), CircuitState::Open);
    assert!(b.try_acquire().is_err(), "no extra probe");

    // A panic that error handling outside the breaker turns into a System error.
    tokio::time::advance(SEC).await;
    let handled = Panics::<()>::new("probe exploded again").circuit_breaker(b.clone()).error_handling();
    let err = handled.execute((), &(), &ActionContext::detached()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::System);
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_while_closed_counts_as_a_failure() {
    let b = breaker("closed-drops", bare().consecutive_failures(2));
    let action = Sleep::new(60 * SEC).circuit_breaker(b.clone()).total_timeout(SEC);
    let ctx = ActionContext::detached();
    action.execute((), &(), &ctx).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Closed);
    action.execute((), &(), &ctx).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_call_never_polled_takes_no_permit_and_records_nothing() {
    let b = breaker("unpolled", bare().consecutive_failures(1).open_for(SEC));
    b.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;
    let action = Sleep::new(SEC).circuit_breaker(b.clone());
    let ctx = ActionContext::detached();

    // Built and dropped while the breaker waits for its one probe: no probe is used up and
    // no failure reopens it.
    for _ in 0..3 {
        drop(action.execute((), &(), &ctx));
    }
    assert_eq!(b.state(), CircuitState::Open, "no call has asked yet");
    action.execute((), &(), &ctx).await.unwrap();
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_outcome_from_before_a_transition_is_ignored() {
    let b = breaker("stale", bare().consecutive_failures(1).open_for(SEC));
    let long_call = b.try_acquire().unwrap(); // admitted while closed
    b.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;
    let probe = b.try_acquire().unwrap();

    // The old call's success must not close the breaker nor free the probe's permit.
    long_call.success();
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert!(b.try_acquire().unwrap_err().is_half_open());
    probe.success();
    assert_eq!(b.state(), CircuitState::Closed);

    // A probe of an earlier half-open period does not count in the next one.
    let b = breaker("stale-probe", bare().consecutive_failures(1).open_for(SEC).half_open_permits(2));
    b.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;
    let (failing, late) = (b.try_acquire().unwrap(), b.try_acquire().unwrap());
    failing.failure(); // re-opens
    tokio::time::advance(SEC).await;
    let fresh = b.try_acquire().unwrap();
    late.success();
    fresh.success();
    assert_eq!(b.state(), CircuitState::HalfOpen, "one of two probes succeeded in this period");
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), CircuitState::Closed);
}

static UPSTREAM: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::new("upstream", bare().consecutive_failures(2).open_for(5 * SEC).build().unwrap())
});

#[tokio::test(start_paused = true)]
async fn one_breaker_shared_by_two_different_actions() {
    let fetch = FailTimes::new(2, ErrorKind::Transient).circuit_breaker(UPSTREAM.clone());
    let store = scripted().circuit_breaker(UPSTREAM.clone());
    let ctx = ActionContext::detached();

    fetch.execute("a", &(), &ctx).await.unwrap_err();
    run(&store, &[OK]).await; // resets the shared run of failures
    fetch.execute("b", &(), &ctx).await.unwrap_err();
    assert_eq!(UPSTREAM.state(), CircuitState::Closed);
    run(&store, &[FAIL]).await;
    assert_eq!(UPSTREAM.state(), CircuitState::Open);

    // Failures of one action fail the other fast.
    let (open, _) = open_error(fetch.execute("c", &(), &ctx).await);
    assert_eq!(open.name(), "upstream");
    assert_eq!(fetch.inner().calls(), 2);

    // And a probe through either closes it for both.
    tokio::time::advance(5 * SEC).await;
    assert_eq!(fetch.execute("d", &(), &ctx).await.unwrap(), "d");
    run(&store, &[OK]).await;
    assert_eq!(UPSTREAM.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn errors_of_kinds_that_are_not_failures_do_not_trip_it() {
    let b = breaker("kinds", bare().consecutive_failures(1).failure_ratio(0.5).min_calls(1));
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[Some(ErrorKind::Permanent), Some(ErrorKind::BusinessLogic)].repeat(10)).await;
    assert_eq!(b.state(), CircuitState::Closed, "the caller's fault, not the dependency's");
    run(&action, &[Some(ErrorKind::System)]).await;
    assert_eq!(b.state(), CircuitState::Open);

    // A probe that fails with a non-failure kind shows the dependency answering: it closes.
    tokio::time::advance(30 * SEC).await;
    run(&action, &[Some(ErrorKind::Permanent)]).await;
    assert_eq!(b.state(), CircuitState::Closed);

    // failure_kinds replaces the default.
    let b = breaker("custom-kinds", bare().consecutive_failures(1).failure_kinds([ErrorKind::Permanent]));
    let action = scripted().circuit_breaker(b.clone());
    run(&action, &[FAIL, Some(ErrorKind::System)]).await;
    assert_eq!(b.state(), CircuitState::Closed);
    run(&action, &[Some(ErrorKind::Permanent)]).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn config_validation_names_the_field() {
    let cases: Vec<(CircuitBreakerConfigBuilder, &str)> = vec![
        (CircuitBreakerConfig::builder().consecutive_failures(0), "consecutive_failures"),
        (CircuitBreakerConfig::builder().failure_ratio(0.0), "failure_ratio"),
        (CircuitBreakerConfig::builder().failure_ratio(1.01), "failure_ratio"),
        (CircuitBreakerConfig::builder().failure_ratio(f64::NAN), "failure_ratio"),
        (CircuitBreakerConfig::builder().window(SlidingWindow::Calls(0)), "window"),
        (
            CircuitBreakerConfig::builder().window(SlidingWindow::Calls(SlidingWindow::MAX_CALLS + 1)),
            "window",
        ),
        (CircuitBreakerConfig::builder().window(SlidingWindow::Time(Duration::ZERO)), "window"),
        (CircuitBreakerConfig::builder().min_calls(0), "min_calls"),
        (CircuitBreakerConfig::builder().window(SlidingWindow::Calls(5)).min_calls(6), "min_calls"),
        (CircuitBreakerConfig::builder().slow_call_threshold(Duration::ZERO), "slow_call_threshold"),
        (CircuitBreakerConfig::builder().slow_call_ratio(-0.5), "slow_call_ratio"),
        (CircuitBreakerConfig::builder().open_for(Duration::ZERO), "open_for"),
        (CircuitBreakerConfig::builder().open_backoff(0.5, 60 * SEC), "open_backoff.factor"),
        (CircuitBreakerConfig::builder().open_backoff(f64::INFINITY, 60 * SEC), "open_backoff.factor"),
        (CircuitBreakerConfig::builder().open_for(60 * SEC).open_backoff(2.0, SEC), "open_backoff.max"),
        (CircuitBreakerConfig::builder().half_open_permits(0), "half_open_permits"),
        (bare(), "failure_ratio"),
        (CircuitBreakerConfig::builder().failure_kinds([]), "failure_kinds"),
    ];
    for (builder, field) in cases {
        let err = builder.clone().build().unwrap_err();
        assert_eq!(err.field(), field, "{builder:?}: {err}");
        assert!(err.to_string().starts_with(&format!("invalid `{field}`: ")), "{err}");
    }

    // A time window needs no bound on min_calls; slow calls alone are a valid rule.
    let config = bare()
        .window(SlidingWindow::Time(60 * SEC))
        .min_calls(1000)
        .slow_call_threshold(SEC)
        .failure_kinds([])
        .build()
        .unwrap();
    assert_eq!(config.min_calls(), 1000);

    // An open duration past what the clock can count is accepted and does not overflow.
    let forever = breaker("forever", bare().consecutive_failures(1).open_for(Duration::MAX));
    forever.try_acquire().unwrap().failure();
    assert_eq!(forever.state(), CircuitState::Open);
    assert!(forever.try_acquire().unwrap_err().remaining() > Duration::from_secs(365 * 24 * 60 * 60));
    assert_eq!(config.open_duration(3), config.open_for(), "no backoff: fixed");
}

#[test]
fn transitions_emit_tracing_events_and_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            paused_runtime().block_on(async {
                let b = breaker("observed", bare().consecutive_failures(1).open_for(SEC));
                let action = scripted().circuit_breaker(b.clone());
                run(&action, &[FAIL]).await; // closed → open
                for _ in 0..3 {
                    action.execute(OK, &(), &ActionContext::detached()).await.unwrap_err(); // rejected
                }
                tokio::time::advance(SEC).await;
                run(&action, &[OK]).await; // open → half-open → closed
            });
        });
    });

    let transitions: Vec<(String, String, String)> = events
        .take()
        .iter()
        // Transitions only: a rejected call's debug event names the breaker too.
        .filter(|e| e.get("breaker").is_some_and(|name| name == "observed") && e.contains_key("from"))
        .map(|e| (e["level"].clone(), e["from"].clone(), e["to"].clone()))
        .collect();
    let expected =
        [("WARN", "closed", "open"), ("INFO", "open", "half_open"), ("INFO", "half_open", "closed")];
    assert_eq!(transitions, expected.map(|(l, f, t)| (l.to_owned(), f.to_owned(), t.to_owned())));

    let mut counters = BTreeMap::new();
    let mut gauges = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key.key().labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        let name = format!("{}{{{}}}", key.key().name(), labels.join(","));
        match value {
            DebugValue::Counter(n) => {
                counters.insert(name, n);
            }
            DebugValue::Gauge(g) => {
                gauges.insert(name, g.into_inner());
            }
            DebugValue::Histogram(_) => {}
        }
    }
    let transitions = "worker_utils_circuit_transitions_total";
    assert_eq!(counters[&format!("{transitions}{{name=observed,from=closed,to=open}}")], 1);
    assert_eq!(counters[&format!("{transitions}{{name=observed,from=open,to=half_open}}")], 1);
    assert_eq!(counters[&format!("{transitions}{{name=observed,from=half_open,to=closed}}")], 1);
    assert_eq!(counters["worker_utils_circuit_rejected_total{name=observed}"], 3);
    assert_eq!(gauges["worker_utils_circuit_state{name=observed}"], 0.0, "closed again");
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn the_success_path_through_a_closed_breaker_allocates_nothing() {
    let before = allocations();
    drop(std::hint::black_box(Box::new(1_u8)));
    assert_eq!(allocations() - before, 1, "the counter sees allocations");

    // Every rule on, so recording reads the clock and updates both kinds of window.
    let configs = [
        CircuitBreakerConfig::default(),
        CircuitBreakerConfig::builder()
            .window(SlidingWindow::Time(60 * SEC))
            .slow_call_threshold(SEC)
            .build()
            .unwrap(),
    ];
    for config in configs {
        let action = scripted().circuit_breaker(CircuitBreaker::new("alloc", config));
        let ctx = ActionContext::detached();
        let before = allocations();
        for _ in 0..10_000 {
            action.execute(OK, &(), &ctx).now_or_never().expect("ready at once").expect("success");
        }
        assert_eq!(allocations() - before, 0, "allocations on the success path");
        assert_eq!(action.breaker().state(), CircuitState::Closed);
    }
}
