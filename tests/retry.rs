//! Retry: schedules under tokio's paused clock, retry-after hints, which errors are
//! retried, what is kept when the loop gives up, cancellation, deadlines, validation.

use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use worker_utils::config::{RETRY_DEFAULTS, RetryDefaults};
use worker_utils::prelude::*;
use worker_utils::retry::{AttemptsExhausted, Backoff, GiveUpReason, Jitter};
use worker_utils::testing::{FailTimes, paused_runtime};

const MS: Duration = Duration::from_millis(1);

fn config(max_attempts: u32, base: Duration, max: Duration) -> worker_utils::retry::RetryConfigBuilder {
    RetryConfig::builder().max_attempts(max_attempts).base_delay(base).max_delay(max)
}

/// Runs `action` (failing `failures` times with `kind`) under `config`; returns the result
/// and the gaps between attempts.
async fn run(
    failures: u32,
    kind: ErrorKind,
    config: RetryConfig,
) -> (Result<u32, ActionError>, Vec<Duration>, u32) {
    let retry = Retry::new(FailTimes::new(failures, kind), config);
    let result = retry.execute(7_u32, &(), &ActionContext::detached()).await;
    (result, retry.inner().gaps(), retry.inner().calls())
}

#[test]
fn defaults_are_the_seeds() {
    let config = RetryConfig::default();
    assert_eq!(config.max_attempts(), 3);
    assert_eq!(config.base_delay(), Duration::from_millis(1000));
    assert_eq!(config.max_delay(), Duration::from_millis(30_000));
    assert_eq!(config.jitter(), Jitter::Full);
    assert_eq!(config.backoff(), Backoff::Exponential { factor: 2.0 });
    assert_eq!(config.retry_on().iter().collect::<Vec<_>>(), [ErrorKind::Transient, ErrorKind::System]);
    assert_eq!(RETRY_DEFAULTS.max_attempts, config.max_attempts());
}

#[tokio::test(start_paused = true)]
async fn exponential_without_jitter_waits_exactly_the_bound() {
    let cfg = config(6, 100 * MS, 1000 * MS).jitter(false).build().unwrap();
    let (result, gaps, calls) = run(5, ErrorKind::Transient, cfg).await;
    assert_eq!(result.unwrap(), 7);
    assert_eq!(calls, 6);
    assert_eq!(gaps, [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS]);
}

#[tokio::test(start_paused = true)]
async fn fixed_and_linear_schedules() {
    let fixed = config(4, 300 * MS, 10_000 * MS).backoff(Backoff::Fixed).jitter(false).build().unwrap();
    assert_eq!(run(3, ErrorKind::System, fixed).await.1, [300 * MS; 3]);

    let linear = config(5, 300 * MS, 1000 * MS).backoff(Backoff::Linear).jitter(false).build().unwrap();
    assert_eq!(run(4, ErrorKind::System, linear).await.1, [300 * MS, 600 * MS, 900 * MS, 1000 * MS]);

    let factor3 = config(4, 10 * MS, 1000 * MS)
        .backoff(Backoff::Exponential { factor: 3.0 })
        .jitter(false)
        .build()
        .unwrap();
    assert_eq!(run(3, ErrorKind::System, factor3).await.1, [10 * MS, 30 * MS, 90 * MS]);
}

#[tokio::test(start_paused = true)]
async fn full_jitter_stays_within_zero_and_the_exponential_bound() {
    for seed in 0..50 {
        let cfg = config(8, 100 * MS, 2000 * MS).seed(seed).build().unwrap();
        let (_, gaps, _) = run(7, ErrorKind::Transient, cfg).await;
        assert_eq!(gaps.len(), 7);
        for (i, gap) in gaps.iter().enumerate() {
            let bound = (100 * MS * 2u32.pow(i as u32)).min(2000 * MS);
            assert!(*gap <= bound, "seed {seed}: retry {} waited {gap:?} > {bound:?}", i + 1);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn equal_jitter_waits_at_least_half_the_bound() {
    for seed in 0..50 {
        let cfg = config(5, 100 * MS, 1000 * MS).jitter(Jitter::Equal).seed(seed).build().unwrap();
        let (_, gaps, _) = run(4, ErrorKind::Transient, cfg).await;
        for (i, gap) in gaps.iter().enumerate() {
            let bound = (100 * MS * 2u32.pow(i as u32)).min(1000 * MS);
            assert!(
                *gap >= bound / 2 && *gap <= bound,
                "seed {seed}: {gap:?} not in [{:?}, {bound:?}]",
                bound / 2
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn decorrelated_jitter_grows_from_the_previous_delay() {
    for seed in 0..50 {
        let cfg =
            config(8, 100 * MS, 3000 * MS).backoff(Backoff::DecorrelatedJitter).seed(seed).build().unwrap();
        let (_, gaps, _) = run(7, ErrorKind::Transient, cfg).await;
        let mut previous = 100 * MS;
        for gap in gaps {
            assert!(gap >= 100 * MS && gap <= (previous * 3).min(3000 * MS), "seed {seed}: {gap:?}");
            previous = gap;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_schedule() {
    let schedule = |seed| async move {
        run(4, ErrorKind::Transient, config(5, 50 * MS, 5000 * MS).seed(seed).build().unwrap()).await.1
    };
    assert_eq!(schedule(42).await, schedule(42).await);
    assert_ne!(schedule(42).await, schedule(43).await);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_is_honoured_and_clamped_to_max_delay() {
    let cfg = config(3, 100 * MS, 10_000 * MS).jitter(false).build().unwrap();
    let retry = Retry::new(FailTimes::new(2, ErrorKind::Transient).retry_after(3000 * MS), cfg);
    retry.execute(1_u32, &(), &ActionContext::detached()).await.unwrap();
    assert_eq!(retry.inner().gaps(), [3000 * MS, 3000 * MS]);

    let cfg = config(2, 100 * MS, 500 * MS).jitter(false).build().unwrap();
    let retry = Retry::new(FailTimes::new(1, ErrorKind::Transient).retry_after(60_000 * MS), cfg);
    retry.execute(1_u32, &(), &ActionContext::detached()).await.unwrap();
    assert_eq!(retry.inner().gaps(), [500 * MS]);
}

#[tokio::test(start_paused = true)]
async fn permanent_and_business_logic_errors_are_tried_once() {
    for kind in [ErrorKind::Permanent, ErrorKind::BusinessLogic] {
        let (result, _, calls) = run(1, kind, RetryConfig::default()).await;
        let err = result.unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(err.kind(), kind);
        assert!(err.downcast_ref::<AttemptsExhausted>().is_none(), "a first-attempt error is returned as is");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_on_and_the_predicate_choose_what_is_retried() {
    let only_permanent = config(3, MS, MS).retry_on([ErrorKind::Permanent]).build().unwrap();
    assert_eq!(run(2, ErrorKind::Permanent, only_permanent.clone()).await.2, 3);
    assert_eq!(run(2, ErrorKind::Transient, only_permanent).await.2, 1);

    fn never(_: &ActionError) -> bool {
        false
    }
    let vetoed = config(3, MS, MS).retry_if(never).build().unwrap();
    assert_eq!(run(2, ErrorKind::Transient, vetoed).await.2, 1);
}

#[tokio::test(start_paused = true)]
async fn exhausted_attempts_keep_every_error() {
    let cfg = config(4, 10 * MS, 100 * MS).build().unwrap();
    let ctx = ActionContext::builder().job_id(JobId::new(77)).build();
    let retry = Retry::new(FailTimes::new(10, ErrorKind::Transient), cfg);
    let err = retry.execute(1_u32, &(), &ctx).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.attempt(), 4);
    assert_eq!(err.job_id(), Some(JobId::new(77)));
    assert_eq!(err.action(), "fail_times");
    let exhausted = err.downcast_ref::<AttemptsExhausted>().expect("AttemptsExhausted source");
    assert_eq!(exhausted.reason(), GiveUpReason::MaxAttempts);
    let attempts: Vec<u32> = exhausted.attempts().iter().map(ActionError::attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert_eq!(
        err.chain().to_string(),
        "fail_times, attempt 4: gave up after 4 attempts (no attempts left): \
         fail_times, attempt 4: injected transient failure #4"
    );
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_error_after_retries_keeps_the_history() {
    struct TransientThenPermanent(std::sync::atomic::AtomicU32);
    impl Action for TransientThenPermanent {
        type Input = ();
        type Output = ();
        fn name(&self) -> &'static str {
            "mixed"
        }
        async fn execute(&self, (): (), _: &(), ctx: &ActionContext) -> Result<(), ActionError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let kind = if n == 0 { ErrorKind::Transient } else { ErrorKind::Permanent };
            Err(ActionError::new(kind, std::io::Error::other("nope")).in_context("mixed", ctx))
        }
    }
    let retry = Retry::new(TransientThenPermanent(0.into()), config(5, MS, MS).build().unwrap());
    let err = retry.execute((), &(), &ActionContext::detached()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    let exhausted = err.downcast_ref::<AttemptsExhausted>().unwrap();
    assert_eq!(exhausted.reason(), GiveUpReason::NotRetryable);
    let kinds: Vec<_> = exhausted.attempts().iter().map(ActionError::kind).collect();
    assert_eq!(kinds, [ErrorKind::Transient, ErrorKind::Permanent]);
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_a_backoff_wait_at_once() {
    let token = CancellationToken::new();
    let ctx = ActionContext::builder().cancellation(token.clone()).build();
    let retry = Retry::new(
        FailTimes::new(10, ErrorKind::Transient),
        config(5, 10_000 * MS, 10_000 * MS).jitter(false).build().unwrap(),
    );

    let canceller = tokio::spawn(async move {
        tokio::time::sleep(2500 * MS).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = retry.execute(1_u32, &(), &ctx).await.unwrap_err();
    canceller.await.unwrap();

    assert_eq!(started.elapsed(), 2500 * MS, "stopped in the middle of the first 10 s wait");
    assert!(err.is_cancelled());
    assert_eq!(retry.inner().calls(), 1);
    let exhausted = err.downcast_ref::<AttemptsExhausted>().unwrap();
    assert_eq!(exhausted.reason(), GiveUpReason::Cancelled);
    assert_eq!(exhausted.attempts().len(), 1, "the failed attempt is kept");
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_is_not_started() {
    let ctx = ActionContext::builder().deadline_in(1500 * MS).build();
    let retry = Retry::new(
        FailTimes::new(10, ErrorKind::Transient),
        config(5, 1000 * MS, 10_000 * MS).jitter(false).build().unwrap(),
    );
    let started = Instant::now();
    let err = retry.execute(1_u32, &(), &ctx).await.unwrap_err();
    assert_eq!(started.elapsed(), 1000 * MS, "waited 1 s, then 2 s would end past the deadline");
    assert_eq!(err.downcast_ref::<AttemptsExhausted>().unwrap().reason(), GiveUpReason::DeadlineReached);
    assert_eq!(retry.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_context_tells_each_attempt_its_number() {
    let ctx = ActionContext::detached();
    let retry = Retry::new(FailTimes::new(2, ErrorKind::System), config(3, MS, MS).build().unwrap());
    retry.execute(1_u32, &(), &ctx).await.unwrap();
    assert_eq!(ctx.attempt(), 3);
}

#[test]
fn invalid_configs_name_the_field() {
    let field = |b: worker_utils::retry::RetryConfigBuilder| b.build().unwrap_err().field().to_owned();
    assert_eq!(field(RetryConfig::builder().max_attempts(0)), "max_attempts");
    assert_eq!(field(config(3, 2000 * MS, 1000 * MS)), "base_delay");
    for factor in [0.0, -2.0, 0.5, f64::NAN, f64::INFINITY] {
        assert_eq!(field(RetryConfig::builder().backoff(Backoff::Exponential { factor })), "backoff.factor");
    }
    let err = RetryConfig::builder().max_attempts(0).build().unwrap_err();
    assert_eq!(err.to_string(), "invalid `max_attempts`: must be at least 1 (it counts the first call)");
}

#[test]
fn environment_overrides_are_checked() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    };
    let d = RetryDefaults::from_lookup(vars(&[
        ("WORKER_UTILS_RETRY_MAX_ATTEMPTS", "5"),
        ("WORKER_UTILS_RETRY_MAX_DELAY_MS", "60000"),
        ("WORKER_UTILS_RETRY_JITTER", "false"),
    ]))
    .unwrap();
    assert_eq!((d.max_attempts, d.max_delay, d.jitter), (5, 60_000 * MS, false));
    assert_eq!(d.base_delay, RETRY_DEFAULTS.base_delay);

    for (var, value) in [
        ("WORKER_UTILS_RETRY_MAX_ATTEMPTS", "0"),
        ("WORKER_UTILS_RETRY_MAX_ATTEMPTS", "-1"),
        ("WORKER_UTILS_RETRY_BASE_DELAY_MS", "1s"),
        ("WORKER_UTILS_RETRY_JITTER", "maybe"),
        ("WORKER_UTILS_RETRY_BASE_DELAY_MS", "999999999"),
    ] {
        let lookup = move |name: &str| (name == var).then(|| value.to_owned());
        let err = RetryDefaults::from_lookup(lookup).unwrap_err();
        assert_eq!(err.field(), var, "{value}");
    }
}

fn any_kind() -> impl Strategy<Value = ErrorKind> {
    prop::sample::select(ErrorKind::ALL.to_vec())
}

fn any_backoff() -> impl Strategy<Value = Backoff> {
    prop_oneof![
        (1.0f64..5.0).prop_map(|factor| Backoff::Exponential { factor }),
        Just(Backoff::Fixed),
        Just(Backoff::Linear),
        Just(Backoff::DecorrelatedJitter),
    ]
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop::sample::select(vec![Jitter::Full, Jitter::Equal, Jitter::None])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_wait_exceeds_max_delay_and_attempts_never_exceed_the_limit(
        max_attempts in 1u32..8,
        base_ms in 0u64..2000,
        extra_ms in 0u64..5000,
        failures in 0u32..12,
        backoff in any_backoff(),
        jitter in any_jitter(),
        hint_ms in prop::option::of(0u64..20_000),
        seed in any::<u64>(),
    ) {
        let max = Duration::from_millis(base_ms + extra_ms);
        let cfg = config(max_attempts, Duration::from_millis(base_ms), max)
            .backoff(backoff).jitter(jitter).seed(seed).build().unwrap();
        let mut action = FailTimes::new(failures, ErrorKind::Transient);
        if let Some(ms) = hint_ms {
            action = action.retry_after(Duration::from_millis(ms));
        }
        let retry = Retry::new(action, cfg);
        let result = paused_runtime().block_on(retry.execute(0u8, &(), &ActionContext::detached()));
        let calls = retry.inner().calls();
        prop_assert!(calls <= max_attempts);
        prop_assert_eq!(result.is_ok(), failures < max_attempts);
        prop_assert_eq!(calls, (failures + 1).min(max_attempts));
        for gap in retry.inner().gaps() {
            prop_assert!(gap <= max, "{:?} > {:?}", gap, max);
        }
    }

    #[test]
    fn non_retryable_kinds_are_tried_once(kind in any_kind(), failures in 1u32..5) {
        let cfg = RetryConfig::default();
        let retry = Retry::new(FailTimes::new(failures, kind), cfg.clone());
        let result = paused_runtime().block_on(retry.execute(0u8, &(), &ActionContext::detached()));
        if cfg.retries(kind) {
            prop_assert_eq!(retry.inner().calls(), (failures + 1).min(3));
        } else {
            prop_assert_eq!(retry.inner().calls(), 1);
            prop_assert_eq!(result.unwrap_err().kind(), kind);
        }
    }
}
