//! Pre-flight validation (`#[action(validate = ..)]`): the validator runs once per call,
//! before the retry loop; a rejected input is `Permanent`, never retried, and dead-lettered
//! on its first delivery even under a policy that redelivers every kind, on the in-memory
//! queue and on Redis, with a dead letter and a FAILED event that say it failed validation.
//! A pipeline step validates its own input. All on tokio's paused clock except Redis.

#[path = "redis_support.rs"]
mod redis_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_support::{delete_namespace, namespace, redis_missing, redis_url};
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{DeadLetter, MemoryQueue, Queue, RedisQueue};
use worker_utils::status::{StatusEvent, StatusSink};
use worker_utils::validate::ValidationFailed;
use worker_utils::worker::{RunReport, Runner, Worker};

/// Counts what ran, so tests can tell the validator's calls from the action's.
#[derive(Default)]
struct Deps {
    checks: AtomicU32,
    calls: AtomicU32,
    /// How many calls of `work` fail (transiently) before it succeeds.
    flaky_calls: u32,
}

impl Deps {
    fn counts(&self) -> (u32, u32) {
        (self.checks.load(Ordering::Relaxed), self.calls.load(Ordering::Relaxed))
    }
}

/// The validator's own error, classified `Transient` to show that its kind does not matter.
#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient)]
#[error("{0} is odd")]
struct Odd(u32);

fn even(n: &u32, deps: &Deps) -> Result<(), Odd> {
    deps.checks.fetch_add(1, Ordering::Relaxed);
    if n.is_multiple_of(2) { Ok(()) } else { Err(Odd(*n)) }
}

#[action(validate = even, retry(max_attempts = 5, base_delay = "1ms", max_delay = "1ms"), error_handling)]
async fn work(n: u32, deps: &Deps) -> Result<u32, ActionError> {
    let call = deps.calls.fetch_add(1, Ordering::Relaxed);
    if call < deps.flaky_calls {
        return Err(ActionError::transient(std::io::Error::other("flaky")));
    }
    Ok(n / 2)
}

fn positive(n: &i64) -> Result<(), String> {
    if *n > 0 { Ok(()) } else { Err(format!("{n} is not positive")) }
}

#[action(retry)]
async fn parse(text: String) -> Result<i64, ActionError> {
    text.parse().map_err(ActionError::permanent)
}

#[action(validate = positive)]
async fn to_unsigned(n: i64) -> Result<u32, ActionError> {
    u32::try_from(n).map_err(ActionError::permanent)
}

/// A step that validates its own input: `to_unsigned` checks what `parse` returned.
#[worker(queue = "numbers", pipeline = [parse, to_unsigned], redeliver(on = [Transient, System, Permanent]))]
struct Numbers;

/// Every kind is redelivered, up to 5 deliveries: only validation dead-letters at once.
#[worker(
    queue = "halves",
    deps = Deps,
    pipeline = [work],
    redeliver(max_deliveries = 5, base_delay = "10ms", on = [Transient, System, Permanent, BusinessLogic])
)]
struct Halves;

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<StatusEvent>>>);

impl StatusSink for Collect {
    fn publish(&self, event: StatusEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Collect {
    fn failed(&self, job: JobId) -> Vec<StatusEvent> {
        let events = self.0.lock().unwrap();
        events.iter().filter(|e| e.job_id == job && e.status == JobStatus::Failed).cloned().collect()
    }
}

/// Runs `worker` on `queue` until `finished` jobs are completed or dead-lettered.
async fn run_until<W, Q>(worker: W, queue: Arc<Q>, deps: W::Deps, status: Collect, finished: u64) -> RunReport
where
    W: Worker,
    Q: Queue<<W::Pipeline as Action<W::Deps>>::Input> + 'static,
{
    let runner = Runner::builder(worker, queue, deps).status(status).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    worker_utils_tests::wait_until("the jobs finish", Duration::from_secs(60), || {
        stats.finished() >= finished
    })
    .await;
    shutdown.cancel();
    run.await.unwrap()
}

fn assert_failed_validation<J>(letter: &DeadLetter<J>, action: &str, reason: &str) {
    assert_eq!(letter.deliveries, 1, "dead-lettered on the first delivery");
    assert!(letter.earlier.is_empty());
    let failure = &letter.failure;
    assert_eq!((failure.kind, failure.action.as_str()), (ErrorKind::Permanent, action));
    assert!(failure.message.ends_with(&format!("validation failed: {reason}")), "{}", failure.message);
    assert_eq!(failure.attempts.len(), 1);
    assert_eq!(failure.gave_up, None, "no retry loop ran");
}

#[tokio::test(start_paused = true)]
async fn the_validator_runs_once_before_the_retry_loop() {
    let deps = Deps { flaky_calls: 4, ..Deps::default() };
    let ctx = ActionContext::detached();
    assert_eq!(Work::new().execute(8, &deps, &ctx).await.unwrap(), 4);
    assert_eq!(deps.counts(), (1, 5), "one check, five attempts");
}

#[tokio::test(start_paused = true)]
async fn a_rejected_input_fails_at_once_as_permanent_and_is_not_retried() {
    let deps = Deps { flaky_calls: 4, ..Deps::default() };
    let ctx = ActionContext::detached();
    let error = Work::new().execute(7, &deps, &ctx).await.unwrap_err();
    assert_eq!(deps.counts(), (1, 0), "checked once, never run");
    assert_eq!(error.kind(), ErrorKind::Permanent, "whatever kind the validator's error has");
    assert!(error.failed_validation());
    let rejection = error.downcast_ref::<ValidationFailed>().unwrap();
    let reason = std::error::Error::source(rejection).unwrap();
    assert!(reason.downcast_ref::<Odd>().is_some(), "the validator's error is the source");
    assert_eq!(error.chain().to_string(), "work, attempt 1: validation failed: 7 is odd");
}

#[tokio::test(start_paused = true)]
async fn on_a_memory_queue_a_rejected_job_is_dead_lettered_on_its_first_delivery() {
    let queue = Arc::new(MemoryQueue::builder("halves").build().unwrap());
    let rejected = queue.enqueue(7).await.unwrap();
    let accepted = queue.enqueue(8).await.unwrap();
    let events = Collect::default();
    let deps = Deps { flaky_calls: 1, ..Deps::default() };

    let report = run_until(Halves, queue.clone(), deps, events.clone(), 2).await;

    assert_eq!((report.completed, report.dead_lettered, report.redelivered), (1, 1, 0));
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].job), (rejected, 7));
    assert_failed_validation(&dead[0], "work", "7 is odd");
    let failed = events.failed(rejected);
    assert_eq!(failed.len(), 1);
    let error = failed[0].error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Permanent);
    assert!(error.message.contains("validation failed: 7 is odd"), "{}", error.message);
    assert!(events.failed(accepted).is_empty(), "the valid job ran normally (after one retry)");
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_step_validates_its_own_input_when_it_starts() {
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    queue.enqueue_batch(vec!["12".to_owned(), "-3".to_owned()]).await.unwrap();

    let report = run_until(Numbers, queue.clone(), (), Collect::default(), 2).await;

    assert_eq!((report.completed, report.dead_lettered, report.redelivered), (1, 1, 0));
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead[0].job, "-3");
    assert_failed_validation(&dead[0], "to_unsigned", "-3 is not positive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_rejected_job_is_dead_lettered_on_its_first_delivery() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("validation");
    let queue: Arc<RedisQueue<u32>> =
        Arc::new(RedisQueue::builder("halves").url(redis_url()).namespace(&ns).connect().await.unwrap());
    let rejected = queue.enqueue(7).await.unwrap();
    queue.enqueue(8).await.unwrap();
    let deps = Deps { flaky_calls: 1, ..Deps::default() };

    let report = run_until(Halves, queue.clone(), deps, Collect::default(), 2).await;

    assert_eq!((report.completed, report.dead_lettered, report.redelivered), (1, 1, 0));
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].job), (rejected, 7));
    assert_failed_validation(&dead[0], "work", "7 is odd");
    delete_namespace(&redis_url(), &ns).await;
}
