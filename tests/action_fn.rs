//! `action_fn`: a plain `async fn` as an action, in each of its three forms, under every
//! combinator and in a runner (on the in-memory queue and on Redis), without `#[action]`
//! or `#[worker]`.

#[path = "redis_support.rs"]
mod redis_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redis_support::{delete_namespace, namespace, redis_missing, redis_url};
use worker_utils::circuit_breaker::CircuitBreakerConfig;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue, RedisQueue};
use worker_utils::worker::{Runner, Worker};
use worker_utils_tests::{PAUSED_CLOCK_LIMIT, wait_until};

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("upstream timed out")]
    #[classify(transient)]
    Timeout,
    #[error("no such id {0}")]
    #[classify(permanent)]
    Missing(u64),
}

struct Deps {
    base: u64,
    calls: AtomicU32,
}

impl Deps {
    fn new(base: u64) -> Self {
        Self { base, calls: AtomicU32::new(0) }
    }
}

async fn double(n: u64) -> Result<u64, ActionError> {
    Ok(n * 2)
}

async fn add_base(n: u64, deps: &Deps) -> Result<u64, FetchError> {
    deps.calls.fetch_add(1, Ordering::Relaxed);
    if n == 0 { Err(FetchError::Missing(n)) } else { Ok(deps.base + n) }
}

/// Times out on the first two attempts, then answers with the attempt number.
async fn flaky(n: u64, deps: &Deps, ctx: &ActionContext) -> Result<u64, FetchError> {
    deps.calls.fetch_add(1, Ordering::Relaxed);
    if ctx.attempt() < 3 { Err(FetchError::Timeout) } else { Ok(n * 100 + u64::from(ctx.attempt())) }
}

fn retry(max_attempts: u32) -> RetryConfig {
    RetryConfig::builder()
        .max_attempts(max_attempts)
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(100))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_fn_of_its_input_is_an_action_for_any_deps() {
    let action = action_fn("double", double);
    let ctx = ActionContext::detached();
    assert_eq!(Action::<()>::name(&action), "double");
    assert_eq!(action.execute(21, &(), &ctx).await.unwrap(), 42);
    assert_eq!(action.execute(4, &Deps::new(0), &ctx).await.unwrap(), 8);
    assert_eq!(Action::<()>::worst_case(&action), None);
}

#[tokio::test]
async fn a_closure_is_an_action() {
    let action = action_fn("len", |s: String| async move { Ok::<_, ActionError>(s.len()) });
    assert_eq!(action.execute("four".to_owned(), &(), &ActionContext::detached()).await.unwrap(), 4);
}

#[tokio::test]
async fn an_fn_with_deps_gets_them_and_its_error_is_stamped() {
    let deps = Deps::new(100);
    let action = action_fn("add_base", add_base);
    let ctx = ActionContext::detached();
    assert_eq!(action.execute(1, &deps, &ctx).await.unwrap(), 101);

    let error = action.execute(0, &deps, &ctx).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert_eq!(error.action(), "add_base");
    assert_eq!(error.attempt(), 1);
    assert!(matches!(error.downcast_ref::<FetchError>(), Some(FetchError::Missing(0))));
    assert_eq!(deps.calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn an_fn_with_the_context_is_retried_on_a_transient_failure() {
    let deps = Deps::new(0);
    let action = action_fn("flaky", flaky).retry(retry(3));
    let ctx = ActionContext::detached();
    assert_eq!(action.execute(7, &deps, &ctx).await.unwrap(), 703);
    assert_eq!(ctx.attempt(), 3);
    assert_eq!(deps.calls.load(Ordering::Relaxed), 3);

    // Two attempts are not enough: the error names the action and the last attempt.
    let deps = Deps::new(0);
    let error = action_fn("flaky", flaky).retry(retry(2)).execute(7, &deps, &ActionContext::detached()).await;
    let error = error.unwrap_err();
    assert_eq!(error.action(), "flaky");
    assert_eq!(deps.calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn every_combinator_takes_it_in_the_canonical_order() {
    let breaker = CircuitBreaker::new("flaky", CircuitBreakerConfig::default());
    let guarded = action_fn("flaky", flaky)
        .timeout(Duration::from_secs(1))
        .retry(retry(3))
        .total_timeout(Duration::from_secs(10))
        .circuit_breaker(breaker.clone())
        .validate_with(|n: &u64, _: &Deps| if *n > 0 { Ok(()) } else { Err("zero") })
        .error_handling();
    // Three attempts of at most 1 s and two waits of at most 100 ms, under the total 10 s.
    assert_eq!(Action::<Deps>::worst_case(&guarded), Some(Duration::from_millis(3200)));

    let action = guarded.then(action_fn("add_base", add_base));
    let deps = Deps::new(1000);
    assert_eq!(action.execute(2, &deps, &ActionContext::detached()).await.unwrap(), 1203);
    assert_eq!(Action::<Deps>::step_names(&action), ["flaky", "add_base"]);

    let rejected = action.execute(0, &deps, &ActionContext::detached()).await.unwrap_err();
    assert!(rejected.failed_validation());
}

/// A hand-written worker: the fn's type cannot be named, so the worker is generic over its
/// pipeline.
struct Numbers<P>(Arc<P>);

impl<P: Action<Deps, Input = u64> + 'static> Worker for Numbers<P> {
    type Deps = Deps;
    type Pipeline = Arc<P>;

    fn queue(&self) -> &str {
        "numbers"
    }

    fn pipeline(&self) -> Arc<P> {
        Arc::clone(&self.0)
    }
}

/// Runs two jobs (1 and 2) through a retried `flaky` then `add_base`: both complete, each
/// after two retries.
async fn run_two_jobs<Q: Queue<u64> + 'static>(queue: Arc<Q>, limit: Duration) {
    let pipeline =
        action_fn("flaky", flaky).retry(retry(3)).error_handling().then(action_fn("add_base", add_base));
    queue.enqueue(1).await.unwrap();
    queue.enqueue(2).await.unwrap();

    let runner = Runner::builder(Numbers(Arc::new(pipeline)), queue, Deps::new(1000)).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    wait_until("both jobs finish", limit, || stats.finished() == 2).await;
    shutdown.cancel();
    let report = run.await.unwrap();
    assert_eq!((report.completed, report.dead_lettered), (2, 0));
    assert_eq!(report.retries, 4);
}

#[tokio::test(start_paused = true)]
async fn it_runs_in_a_runner() {
    run_two_jobs(Arc::new(MemoryQueue::builder("numbers").build().unwrap()), PAUSED_CLOCK_LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_runs_in_a_runner_on_redis() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("action_fn");
    let queue: Arc<RedisQueue<u64>> =
        Arc::new(RedisQueue::builder("numbers").url(redis_url()).namespace(&ns).connect().await.unwrap());
    run_two_jobs(queue, Duration::from_secs(30)).await;
    delete_namespace(&redis_url(), &ns).await;
}
