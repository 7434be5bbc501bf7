//! `#[action]` and `#[derive(Classify)]`: the macro-built action behaves exactly like the
//! same wrappers composed by hand — same attempts, same delays under the paused clock
//! (jitter off), same errors — and the generated type's constants and names hold.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use worker_utils::prelude::*;
use worker_utils::retry::{AttemptsExhausted, GiveUpReason, Jitter, RetryBudget};
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
    // 4 × 1 s + 3 × 250 ms: a retry-after hint could stretch every wait to `max_delay`.
    assert_eq!(Fetch::WORST_CASE, Some(4 * Duration::from_secs(1) + 750 * MS));
    assert!(Fetch::WORST_CASE >= Some(run.elapsed), "WORST_CASE bounds a step that always times out");
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

/// `WORST_CASE` is the stack's `Action::worst_case`, which the worker runner checks
/// against the queue's lease.
#[test]
fn worst_case_is_the_runtimes() {
    #[action(retry(max_attempts = 7, base_delay = "30ms", max_delay = "1s", factor = 2.5), timeout = 20)]
    async fn retry_and_timeout(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry(max_attempts = 6, base_delay = "300ms", max_delay = "1s", backoff = linear), timeout = "2s")]
    async fn linear(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry, timeout = "1m", error_handling)]
    async fn defaults(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry)]
    async fn retry_without_timeout(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(total_timeout = "1m")]
    async fn total_alone(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(total_timeout = "10s", retry(max_attempts = 5), timeout = "5s")]
    async fn total_caps_retry(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(total_timeout = "1h", retry, timeout = "1s")]
    async fn total_above_retry(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(retry(max_attempts = 2, max_delay = "5s"), total_timeout = "2m")]
    async fn total_without_timeout(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(circuit_breaker, retry(max_attempts = 2), timeout = "3s", error_handling)]
    async fn behind_breaker(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(circuit_breaker)]
    async fn breaker_alone(_: ()) -> Result<(), ActionError> {
        Ok(())
    }

    let s = Duration::from_secs;
    let cases = [
        (
            RetryAndTimeout::WORST_CASE,
            Action::<()>::worst_case(&RetryAndTimeout::new()),
            Some(7 * 20 * MS + s(6)),
        ),
        (Linear::WORST_CASE, Action::<()>::worst_case(&Linear::new()), Some(s(6 * 2 + 5))),
        (Defaults::WORST_CASE, Action::<()>::worst_case(&Defaults::new()), Some(s(3 * 60 + 2 * 30))),
        (RetryWithoutTimeout::WORST_CASE, Action::<()>::worst_case(&RetryWithoutTimeout::new()), None),
        (TotalAlone::WORST_CASE, Action::<()>::worst_case(&TotalAlone::new()), Some(s(60))),
        (TotalCapsRetry::WORST_CASE, Action::<()>::worst_case(&TotalCapsRetry::new()), Some(s(10))),
        (TotalAboveRetry::WORST_CASE, Action::<()>::worst_case(&TotalAboveRetry::new()), Some(s(3 + 60))),
        (
            TotalWithoutTimeout::WORST_CASE,
            Action::<()>::worst_case(&TotalWithoutTimeout::new()),
            Some(s(120)),
        ),
        (BehindBreaker::WORST_CASE, Action::<()>::worst_case(&BehindBreaker::new()), Some(s(2 * 3 + 30))),
        (BreakerAlone::WORST_CASE, Action::<()>::worst_case(&BreakerAlone::new()), None),
    ];
    for (index, (constant, runtime, expected)) in cases.into_iter().enumerate() {
        assert_eq!(constant, runtime, "case {index}: WORST_CASE and Action::worst_case differ");
        assert_eq!(constant, expected, "case {index}");
    }
    assert_eq!(Fetch::WORST_CASE, Action::<Deps>::worst_case(&Fetch::new()));
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
    assert!(debug.starts_with("fetch(ErrorHandling"), "{debug}");
    assert!(debug.contains("Retry") && debug.contains("Timeout"), "{debug}");
}

// Resilience: the circuit breaker, the total timeout and the retry budget.

#[action(
    retry(max_attempts = 2, base_delay = "10ms", jitter = false),
    circuit_breaker(consecutive_failures = 2, open_for = "10s")
)]
async fn guarded(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

/// One call of `action` with fresh deps and context: the outcome and the calls made.
async fn call_once<A>(action: &A, deps: Deps) -> (Result<Vec<u8>, ActionError>, u32)
where
    A: Action<Deps, Input = String, Output = Vec<u8>>,
{
    let result = action.execute("u".to_owned(), &deps, &ActionContext::detached()).await;
    (result, deps.calls())
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_failures_and_rejects_with_circuit_open() {
    let action = Guarded::new();
    // The breaker sits outside the retry loop: one call is two attempts, one failure.
    for _ in 0..2 {
        let (result, calls) = call_once(&action, Deps::failing(10)).await;
        assert!(result.is_err());
        assert_eq!(calls, 2);
    }

    let (result, calls) = call_once(&action, Deps::default()).await;
    let err = result.unwrap_err();
    let open = err.downcast_ref::<CircuitOpen>().expect("rejected by the open breaker");
    assert_eq!(open.name(), "guarded", "the breaker is named after the action");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(calls, 0, "a rejected call is neither made nor retried");

    tokio::time::sleep(Duration::from_secs(10)).await;
    let (result, _) = call_once(&action, Deps::default()).await;
    assert_eq!(result.unwrap(), b"u", "a successful probe closes the breaker");
}

/// Every key reaches the builder: the breaker's config is the one built by hand.
#[test]
fn breaker_keys_mirror_the_builder() {
    use worker_utils::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};

    #[action(circuit_breaker(
        consecutive_failures = false,
        failure_ratio = 0.25,
        window = "1m",
        min_calls = 4,
        slow_call = "2s",
        slow_call_ratio = 0.5,
        open_for = "5s",
        open_backoff(factor = 2, max = "1m"),
        half_open = 3,
        on = [System],
    ))]
    async fn tuned(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(circuit_breaker(window = 5, min_calls = 5, consecutive_failures = 3, failure_ratio = false))]
    async fn counted(_: ()) -> Result<(), ActionError> {
        Ok(())
    }
    #[action(circuit_breaker)]
    async fn defaulted(_: ()) -> Result<(), ActionError> {
        Ok(())
    }

    let by_hand = CircuitBreakerConfig::builder()
        .no_consecutive_failures()
        .failure_ratio(0.25)
        .window(SlidingWindow::Time(Duration::from_secs(60)))
        .min_calls(4)
        .slow_call_threshold(Duration::from_secs(2))
        .slow_call_ratio(0.5)
        .open_for(Duration::from_secs(5))
        .open_backoff(2.0, Duration::from_secs(60))
        .half_open_permits(3)
        .failure_kinds([ErrorKind::System]);
    let counted_by_hand = CircuitBreakerConfig::builder()
        .window(SlidingWindow::Calls(5))
        .min_calls(5)
        .consecutive_failures(3)
        .no_failure_ratio();
    let config = |breaker: &CircuitBreaker| format!("{:?}", breaker.config());
    assert_eq!(config(Tuned::new().stack().breaker()), format!("{:?}", by_hand.build().unwrap()));
    assert_eq!(config(Counted::new().stack().breaker()), format!("{:?}", counted_by_hand.build().unwrap()));
    assert_eq!(config(Defaulted::new().stack().breaker()), format!("{:?}", CircuitBreakerConfig::default()));
    assert_eq!(Tuned::new().stack().breaker().name(), "tuned");
}

static UPSTREAM: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    let config = worker_utils::circuit_breaker::CircuitBreakerConfig::builder()
        .consecutive_failures(2)
        .build()
        .expect("valid breaker config");
    CircuitBreaker::new("upstream", config)
});

#[action(circuit_breaker = UPSTREAM)]
async fn upload(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[action(circuit_breaker = self::UPSTREAM, error_handling)]
async fn download(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[tokio::test(start_paused = true)]
async fn a_shared_breaker_counts_the_failures_of_every_action_using_it() {
    let (upload, download) = (Upload::new(), Download::new());
    assert!(call_once(&upload, Deps::failing(1)).await.0.is_err());
    assert!(call_once(&download, Deps::failing(1)).await.0.is_err());

    for (result, calls) in
        [call_once(&upload, Deps::default()).await, call_once(&download, Deps::default()).await]
    {
        let err = result.unwrap_err();
        assert_eq!(err.downcast_ref::<CircuitOpen>().map(CircuitOpen::name), Some("upstream"), "{err}");
        assert_eq!(calls, 0);
    }
}

#[action(
    timeout = "200ms",
    retry(max_attempts = 10, base_delay = "300ms", backoff = fixed, jitter = false),
    total_timeout = "1s"
)]
async fn bounded(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_cuts_a_retrying_call() {
    use worker_utils::timeout::TimeoutScope;

    let deps = Deps::failing(100);
    let started = Instant::now();
    let err = Bounded::new().execute("u".to_owned(), &deps, &ActionContext::detached()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(deps.calls(), 4, "attempts at 0, 300, 600 and 900 ms; the wait for the fifth is cut");
    assert_eq!(err.downcast_ref::<Elapsed>().map(Elapsed::scope), Some(TimeoutScope::Total));
    assert_eq!(Bounded::WORST_CASE, Some(Duration::from_secs(1)));
}

/// 30 attempts without waits: more retries in one second than the default budget allows.
#[action(retry(max_attempts = 30, base_delay = 0, max_delay = 0))]
async fn default_budget(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[action(retry(max_attempts = 30, base_delay = 0, max_delay = 0, budget = false))]
async fn no_budget(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[action(retry(max_attempts = 30, base_delay = 0, max_delay = 0, budget(ratio = 0, per_second = 2)))]
async fn own_budget(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

/// The calls of one always-failing call, and why its retry loop stopped.
async fn budget_run<A: Action<Deps, Input = String, Output = Vec<u8>>>(action: &A) -> (u32, GiveUpReason) {
    let (result, calls) = call_once(action, Deps::failing(1000)).await;
    let err = result.unwrap_err();
    (calls, err.downcast_ref::<AttemptsExhausted>().expect("retried at least once").reason())
}

#[tokio::test(start_paused = true)]
async fn budget_false_retries_without_a_budget() {
    // The default budget: 20 % of calls + 10 retries per second.
    assert_eq!(budget_run(&DefaultBudget::new()).await, (11, GiveUpReason::BudgetExhausted));
    assert_eq!(budget_run(&NoBudget::new()).await, (30, GiveUpReason::MaxAttempts));
    assert_eq!(budget_run(&OwnBudget::new()).await, (3, GiveUpReason::BudgetExhausted));
}

static SHARED_BUDGET: LazyLock<RetryBudget> =
    LazyLock::new(|| RetryBudget::new(0.0, 3).expect("valid budget").shared());

#[action(retry(max_attempts = 30, base_delay = 0, max_delay = 0, budget = SHARED_BUDGET))]
async fn first_user(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[action(retry(max_attempts = 30, base_delay = 0, max_delay = 0, budget = SHARED_BUDGET))]
async fn second_user(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    fetch(url, deps, ctx).await
}

#[tokio::test(start_paused = true)]
async fn a_shared_budget_is_spent_by_every_action_using_it() {
    assert_eq!(budget_run(&FirstUser::new()).await, (4, GiveUpReason::BudgetExhausted));
    // The first action spent the three retries; the second gets none.
    let (result, calls) = call_once(&SecondUser::new(), Deps::failing(1000)).await;
    assert_eq!(calls, 1);
    let err = result.unwrap_err();
    let exhausted = err.downcast_ref::<AttemptsExhausted>().expect("a refusal says so");
    assert_eq!((exhausted.attempts().len(), exhausted.reason()), (1, GiveUpReason::BudgetExhausted));
}
