//! `#[action]` and `#[derive(Classify)]`: the macro-built action behaves exactly like the
//! same wrappers composed by hand — same attempts, same delays under the paused clock
//! (jitter off), same errors — and the generated type's constants and names hold.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use worker_utils::prelude::*;
use worker_utils::retry::{AttemptsExhausted, Backoff, Jitter};
use worker_utils::timeout::Elapsed;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("upstream timed out")]
    #[classify(transient)]
    Timeout,
    #[error("bad url {0}")]
    #[classify(permanent)]
    BadUrl(String),
    #[error("busy")]
    #[classify(transient, retry_after = delay)]
    Busy { delay: Duration },
}

/// What the step does on each call, and what it saw.
#[derive(Default)]
struct Deps {
    /// Attempts (1-based) that fail with `Timeout`.
    fail_first: u32,
    /// Sleep this long in every call (to trip the timeout).
    sleep: Option<Duration>,
    /// Fail with `Busy { delay }` instead of `Timeout`.
    busy: Option<Duration>,
    calls: AtomicU32,
    call_times: Mutex<Vec<Instant>>,
}

impl Deps {
    fn failing(fail_first: u32) -> Self {
        Self { fail_first, ..Self::default() }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    fn gaps(&self) -> Vec<Duration> {
        let times = self.call_times.lock().unwrap();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

// The user's step, and the macro-built action around it, arguments in a scrambled order.
#[action(
    timeout = "1s",
    error_handling,
    retry(max_attempts = 4, base_delay = "100ms", max_delay = "250ms", jitter = "none")
)]
async fn fetch(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    let attempt = deps.calls.fetch_add(1, Ordering::Relaxed) + 1;
    deps.call_times.lock().unwrap().push(Instant::now());
    assert_eq!(ctx.attempt(), attempt, "the retry loop sets the attempt before each call");
    if let Some(sleep) = deps.sleep {
        tokio::time::sleep(sleep).await;
    }
    if attempt <= deps.fail_first {
        return Err(match deps.busy {
            Some(delay) => FetchError::Busy { delay },
            None => FetchError::Timeout,
        });
    }
    if url.is_empty() {
        return Err(FetchError::BadUrl(url));
    }
    Ok(url.into_bytes())
}

/// The same step as a hand-written action, as the runtime docs show.
struct FetchByHand;

impl Action<Deps> for FetchByHand {
    type Input = String;
    type Output = Vec<u8>;

    fn name(&self) -> &'static str {
        "fetch"
    }

    async fn execute(&self, url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, ActionError> {
        fetch(url, deps, ctx).await.map_err(|e| ActionError::from(e).in_context("fetch", ctx))
    }
}

fn by_hand() -> impl Action<Deps, Input = String, Output = Vec<u8>> {
    let config = RetryConfig::builder()
        .max_attempts(4)
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(250))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    ErrorHandling::new(Retry::new(Timeout::new(FetchByHand, Duration::from_secs(1)), config))
}

/// What one run looked like: the outcome (errors rendered), the calls, the gaps, the time.
#[derive(Debug, PartialEq)]
struct Run {
    outcome: Result<Vec<u8>, (ErrorKind, String, String, u32)>,
    calls: u32,
    gaps: Vec<Duration>,
    elapsed: Duration,
    history: Vec<String>,
}

async fn run<A: Action<Deps, Input = String, Output = Vec<u8>>>(action: &A, url: &str, deps: Deps) -> Run {
    let started = Instant::now();
    let ctx = ActionContext::detached();
    let result = action.execute(url.to_owned(), &deps, &ctx).await;
    let elapsed = started.elapsed();
    let history = result
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<AttemptsExhausted>())
        .map(|ex| ex.attempts().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    Run {
        outcome: result.map_err(|e| (e.kind(), e.action().to_owned(), e.chain().to_string(), e.attempt())),
        calls: deps.calls(),
        gaps: deps.gaps(),
        elapsed,
        history,
    }
}

async fn both(url: &str, deps: impl Fn() -> Deps) -> Run {
    let by_macro = run(&Fetch::new(), url, deps()).await;
    let by_hand = run(&by_hand(), url, deps()).await;
    assert_eq!(by_macro, by_hand, "macro-built and hand-composed actions differ");
    by_macro
}

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn succeeds_after_transient_failures_like_the_hand_composed_action() {
    let run = both("https://x", || Deps::failing(2)).await;
    assert_eq!(run.outcome, Ok(b"https://x".to_vec()));
    assert_eq!(run.calls, 3);
    assert_eq!(run.gaps, [100 * MS, 200 * MS]);
    assert_eq!(run.elapsed, 300 * MS);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_like_the_hand_composed_action() {
    let run = both("https://x", || Deps::failing(10)).await;
    let (kind, action, chain, attempt) = run.outcome.clone().unwrap_err();
    assert_eq!(kind, ErrorKind::Transient);
    assert_eq!(action, "fetch");
    assert_eq!(attempt, 4);
    assert!(chain.contains("gave up after 4 attempts"), "{chain}");
    assert_eq!(run.calls, 4);
    assert_eq!(run.gaps, [100 * MS, 200 * MS, 250 * MS], "exponential, capped at max_delay");
    assert_eq!(run.history.len(), 4);
    assert_eq!(run.history[0], "fetch, attempt 1: upstream timed out");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let run = both("", || Deps::failing(0)).await;
    let (kind, _, chain, attempt) = run.outcome.unwrap_err();
    assert_eq!(kind, ErrorKind::Permanent);
    assert_eq!(chain, "fetch, attempt 1: bad url ");
    assert_eq!(attempt, 1);
    assert_eq!(run.calls, 1);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_applies_per_attempt() {
    let run = both("https://x", || Deps { sleep: Some(Duration::from_secs(5)), ..Deps::default() }).await;
    assert_eq!(run.calls, 4);
    assert_eq!(run.elapsed, 4 * Duration::from_secs(1) + 550 * MS);
    assert_eq!(Fetch::WORST_CASE, Some(run.elapsed), "WORST_CASE is reached by a step that always times out");
}

#[tokio::test(start_paused = true)]
async fn the_derived_retry_after_hint_is_honoured() {
    let run = both("https://x", || Deps { fail_first: 1, busy: Some(240 * MS), ..Deps::default() }).await;
    assert!(run.outcome.is_ok());
    assert_eq!(run.gaps, [240 * MS], "the hint (240 ms) beats the backoff (100 ms)");
}

#[tokio::test(start_paused = true)]
async fn the_timeout_error_is_the_runtimes() {
    let deps = Deps { sleep: Some(Duration::from_secs(5)), ..Deps::default() };
    let err = Fetch::new().execute("u".to_owned(), &deps, &ActionContext::detached()).await.unwrap_err();
    let exhausted = err.downcast_ref::<AttemptsExhausted>().unwrap();
    assert!(exhausted.attempts().iter().all(|e| e.downcast_ref::<Elapsed>().is_some()));
}

#[test]
fn worst_case_matches_the_runtime_formula() {
    let config = RetryConfig::builder()
        .max_attempts(4)
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(250))
        .build()
        .unwrap();
    assert_eq!(Fetch::WORST_CASE, Some(4 * Duration::from_secs(1) + config.worst_case_backoff()));

    #[action(retry(max_attempts = 7, base_delay = "30ms", max_delay = "1s", backoff = exponential, factor = 2.5), timeout = 20)]
    async fn exponential(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry(max_attempts = 6, base_delay = "300ms", max_delay = "1s", backoff = linear), timeout = "2s")]
    async fn linear(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry(max_attempts = 5, base_delay = "1s", max_delay = "1m", backoff = decorrelated), timeout = "2s")]
    async fn decorrelated(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry, timeout = "1m")]
    async fn defaults(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry)]
    async fn unbounded(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    let cases: [(Option<Duration>, u32, Duration, Duration, Duration, Backoff); 4] = [
        (
            Exponential::WORST_CASE,
            7,
            20 * MS,
            30 * MS,
            Duration::from_secs(1),
            Backoff::Exponential { factor: 2.5 },
        ),
        (Linear::WORST_CASE, 6, Duration::from_secs(2), 300 * MS, Duration::from_secs(1), Backoff::Linear),
        (
            Decorrelated::WORST_CASE,
            5,
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_secs(60),
            Backoff::DecorrelatedJitter,
        ),
        (
            Defaults::WORST_CASE,
            3,
            Duration::from_secs(60),
            Duration::from_secs(1),
            Duration::from_secs(30),
            Backoff::default(),
        ),
    ];
    for (worst_case, attempts, timeout, base, max, backoff) in cases {
        let config = RetryConfig::builder()
            .max_attempts(attempts)
            .base_delay(base)
            .max_delay(max)
            .backoff(backoff)
            .build()
            .unwrap();
        assert_eq!(worst_case, Some(timeout * attempts + config.worst_case_backoff()), "{backoff:?}");
    }
    assert_eq!(Unbounded::WORST_CASE, None, "no timeout: an attempt is unbounded");
}

static HANDLED: AtomicU32 = AtomicU32::new(0);
static CLEANED: AtomicU32 = AtomicU32::new(0);

fn recover(error: ActionError, _: &Deps, _: &ActionContext) -> Result<Vec<u8>, ActionError> {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    match error.kind() {
        ErrorKind::Permanent => Ok(b"fallback".to_vec()),
        _ => Err(error),
    }
}

fn clean_up(_: &ActionError, _: &Deps, _: &ActionContext) {
    CLEANED.fetch_add(1, Ordering::Relaxed);
}

fn never_busy(error: &ActionError) -> bool {
    !error.to_string().contains("busy")
}

#[action(
    retry(max_attempts = 3, base_delay = "10ms", jitter = false, on = [Transient], when = never_busy),
    error_handling(handler = recover, cleanup = clean_up),
    name = "fetch_with_hooks",
)]
async fn hooked(url: String, deps: &Deps) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, &ActionContext::detached()).await
}

#[tokio::test(start_paused = true)]
async fn handler_cleanup_predicate_and_name() {
    let action = Hooked::default();
    assert_eq!(action.name(), "fetch_with_hooks");
    let ctx = ActionContext::detached();

    // Permanent: the handler recovers, after the cleanup ran.
    let out = action.execute(String::new(), &Deps::default(), &ctx).await.unwrap();
    assert_eq!(out, b"fallback");
    assert_eq!((HANDLED.load(Ordering::Relaxed), CLEANED.load(Ordering::Relaxed)), (1, 1));

    // Busy is transient, but the predicate vetoes retrying it.
    let deps = Deps { fail_first: 5, busy: Some(MS), ..Deps::default() };
    let err = action.execute("u".to_owned(), &deps, &ctx).await.unwrap_err();
    assert_eq!(deps.calls(), 1);
    assert_eq!(err.action(), "fetch_with_hooks");
    assert_eq!((HANDLED.load(Ordering::Relaxed), CLEANED.load(Ordering::Relaxed)), (2, 2));
}

#[action(error_handling)]
async fn panicking(input: u32) -> Result<u32, ActionError> {
    assert!(input > 0, "input must be positive");
    Ok(input)
}

#[tokio::test]
async fn a_panic_becomes_a_system_error_and_the_action_is_generic_over_deps() {
    let err = Panicking::new().execute(0, &"any deps", &ActionContext::detached()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::System);
    assert_eq!(err.action(), "panicking");
    assert_eq!(Panicking::new().execute(3, &(), &ActionContext::detached()).await.unwrap(), 3);
}

#[test]
fn classify_derive_kinds_and_hints() {
    assert_eq!(FetchError::Timeout.kind(), ErrorKind::Transient);
    assert_eq!(FetchError::BadUrl(String::new()).kind(), ErrorKind::Permanent);
    assert_eq!(FetchError::Timeout.retry_after(), None);
    assert_eq!(FetchError::Busy { delay: MS }.retry_after(), Some(MS));
    assert_eq!(ActionError::from(FetchError::Busy { delay: MS }).retry_after(), Some(MS));
}

#[test]
fn the_type_is_debug_and_names_its_stack() {
    let debug = format!("{:?}", Fetch::new());
    assert!(debug.starts_with("Fetch(ErrorHandling"), "{debug}");
    assert!(debug.contains("Retry") && debug.contains("Timeout"), "{debug}");
}
