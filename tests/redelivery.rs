//! Queue-level retries: a failure that outlives the action's own retries goes back to the
//! queue with the redelivery policy's delay (or the error's hint), and only a final failure
//! becomes a dead letter, with every delivery's attempts. All on tokio's paused clock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::retry::{GiveUpReason, RetryBudget};
use worker_utils::status::{StatusEvent, StatusSink};
use worker_utils::testing::FailTimes;
use worker_utils::worker::{RedeliveryPolicy, RunReport, Runner, Worker};

/// A worker whose pipeline is a shared action, so the test can inspect it afterwards.
struct Shared<P>(Arc<P>);

impl<P: Action<(), Input = u32> + 'static> Worker for Shared<P> {
    type Deps = ();
    type Pipeline = Arc<P>;

    fn queue(&self) -> &str {
        "jobs"
    }

    fn pipeline(&self) -> Arc<P> {
        self.0.clone()
    }
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<StatusEvent>>>);

impl StatusSink for Collect {
    fn publish(&self, event: StatusEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Collect {
    fn of(&self, job: JobId) -> Vec<StatusEvent> {
        self.0.lock().unwrap().iter().filter(|e| e.job_id == job).cloned().collect()
    }
}

/// Redelivery after exactly `base_delay · 2ⁿ⁻¹` (no jitter), up to `max` deliveries.
fn policy(max: u32, base: Duration, cap: Duration) -> RedeliveryPolicy {
    RedeliveryPolicy::builder()
        .max_deliveries(max)
        .base_delay(base)
        .max_delay(cap)
        .jitter(false)
        .build()
        .unwrap()
}

struct Run {
    queue: Arc<MemoryQueue<u32>>,
    events: Collect,
}

impl Run {
    fn new() -> Self {
        let events = Collect::default();
        let queue = Arc::new(MemoryQueue::builder("jobs").status(events.clone()).build().unwrap());
        Self { queue, events }
    }

    /// Runs `action` under `policy` until `finished` jobs are completed or dead-lettered.
    async fn until<P>(&self, action: &Arc<P>, policy: RedeliveryPolicy, finished: u64) -> RunReport
    where
        P: Action<(), Input = u32> + 'static,
    {
        let runner = Runner::builder(Shared(action.clone()), self.queue.clone(), ())
            .status(self.events.clone())
            .redelivery(policy)
            .concurrency(4)
            .build()
            .unwrap();
        let stats = runner.stats();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(runner.run(shutdown.clone()));
        worker_utils_tests::wait_until("the jobs finish", worker_utils_tests::PAUSED_CLOCK_LIMIT, || {
            stats.finished() >= finished
        })
        .await;
        shutdown.cancel();
        run.await.unwrap()
    }
}

fn statuses(events: &[StatusEvent]) -> Vec<(JobStatus, u32)> {
    events.iter().map(|e| (e.status, e.attempt)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_beyond_the_retries_is_redelivered_after_the_policy_delay() {
    let run = Run::new();
    let id = run.queue.enqueue(1).await.unwrap();
    // Three in-process attempts fail (two 1 ms retries); the fourth call, on delivery 2, works.
    let retry = RetryConfig::builder().max_attempts(3).base_delay(Duration::from_millis(1)).jitter(false);
    let action = Arc::new(FailTimes::new(3, ErrorKind::Transient).retry(retry.build().unwrap()));
    let report = run.until(&action, policy(5, Duration::from_secs(10), Duration::from_secs(600)), 1).await;

    assert_eq!((report.completed, report.redelivered, report.dead_lettered), (1, 1, 0));
    let calls = action.inner().call_times();
    assert_eq!(calls[3] - calls[2], Duration::from_secs(10), "delivery 2 starts when due");

    let events = run.events.of(id);
    assert_eq!(
        statuses(&events),
        [
            (JobStatus::Pending, 1),
            (JobStatus::Processing, 1),
            (JobStatus::Pending, 2),
            (JobStatus::Processing, 2),
            (JobStatus::Completed, 2),
        ]
    );
    let redelivered = &events[2];
    assert_eq!(redelivered.previous, Some(JobStatus::Processing));
    assert_eq!(redelivered.due_at_ms, Some(redelivered.timestamp_ms + 10_000));
    let error = redelivered.error.as_ref().expect("the error that sent it back");
    assert_eq!(error.kind, ErrorKind::Transient);
    assert!(error.message.contains("gave up after 3 attempts"), "{}", error.message);
    assert!(run.queue.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_last_allowed_delivery_dead_letters_the_job_with_every_deliverys_attempts() {
    let run = Run::new();
    let id = run.queue.enqueue(1).await.unwrap();
    let retry = RetryConfig::builder().max_attempts(2).base_delay(Duration::from_millis(1)).no_budget();
    let action = Arc::new(FailTimes::new(u32::MAX, ErrorKind::Transient).retry(retry.build().unwrap()));
    let started = Instant::now();
    let report = run.until(&action, policy(4, Duration::from_secs(1), Duration::from_secs(600)), 1).await;

    assert_eq!((report.completed, report.redelivered, report.dead_lettered), (0, 3, 1));
    // Waits of 1, 2 and 4 s between the four deliveries, plus 1 ms of in-process retry each.
    assert!(started.elapsed() >= Duration::from_secs(7));
    let dead = run.queue.dead_letters().await.unwrap();
    assert_eq!((dead.len(), dead[0].id, dead[0].deliveries), (1, id, 4));
    let history: Vec<(u32, Vec<u32>)> =
        dead[0].history().map(|f| (f.delivery, f.attempts.iter().map(|a| a.attempt).collect())).collect();
    assert_eq!(history, [(1, vec![1, 2]), (2, vec![1, 2]), (3, vec![1, 2]), (4, vec![1, 2])]);
    assert!(dead[0].history().all(|f| f.gave_up == Some(GiveUpReason::MaxAttempts)));

    let terminal: Vec<_> = run.events.of(id).into_iter().filter(|e| e.status.is_terminal()).collect();
    assert_eq!(terminal.len(), 1, "one FAILED, on the last delivery only");
    assert_eq!((terminal[0].status, terminal[0].attempt), (JobStatus::Failed, 4));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_dead_lettered_once_without_redelivery() {
    let run = Run::new();
    let id = run.queue.enqueue(1).await.unwrap();
    let action = Arc::new(FailTimes::new(u32::MAX, ErrorKind::Permanent));
    let report = run.until(&action, RedeliveryPolicy::default(), 1).await;

    assert_eq!((report.redelivered, report.dead_lettered), (0, 1));
    assert_eq!(action.calls(), 1);
    let dead = run.queue.dead_letters().await.unwrap();
    assert!(dead[0].earlier.is_empty());
    assert_eq!((dead[0].failure.kind, dead[0].failure.delivery), (ErrorKind::Permanent, 1));
    assert_eq!(
        statuses(&run.events.of(id)),
        [(JobStatus::Pending, 1), (JobStatus::Processing, 1), (JobStatus::Failed, 1)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_circuit_open_rejection_is_redelivered_when_the_breaker_half_opens() {
    let run = Run::new();
    run.queue.enqueue(1).await.unwrap();
    let config = worker_utils::circuit_breaker::CircuitBreakerConfig::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(30))
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config);
    // Delivery 1 fails and opens the breaker; delivery 2, 1 s later, is refused by it and
    // comes back when it half-opens, 29 s later; that probe succeeds.
    let action = Arc::new(FailTimes::new(1, ErrorKind::Transient).circuit_breaker(breaker));
    let report = run.until(&action, policy(5, Duration::from_secs(1), Duration::from_secs(600)), 1).await;

    assert_eq!((report.completed, report.redelivered), (1, 2));
    let calls = action.inner().call_times();
    assert_eq!(calls.len(), 2, "the refused delivery never reached the action");
    assert_eq!(calls[1] - calls[0], Duration::from_secs(30));
    let refused = &run.events.0.lock().unwrap()[4];
    assert_eq!((refused.status, refused.attempt), (JobStatus::Pending, 3));
    assert!(refused.error.as_ref().unwrap().message.contains("circuit"), "{refused:?}");
    assert_eq!(refused.due_at_ms, Some(refused.timestamp_ms + 29_000));
}

#[tokio::test(start_paused = true)]
async fn a_retry_refused_by_the_budget_is_marked_and_redelivered() {
    let run = Run::new();
    let id = run.queue.enqueue(1).await.unwrap();
    let no_retries = RetryBudget::new(0.0, 0).unwrap();
    let retry = RetryConfig::builder().max_attempts(3).budget(no_retries).build().unwrap();
    let action = Arc::new(FailTimes::new(1, ErrorKind::Transient).retry(retry));
    let report = run.until(&action, RedeliveryPolicy::default(), 1).await;

    assert_eq!((report.completed, report.redelivered, report.dead_lettered), (1, 1, 0));
    assert_eq!(report.retries, 0, "the budget allowed no in-process retry");
    let events = run.events.of(id);
    let error = events[2].error.as_ref().unwrap();
    assert!(error.message.contains("gave up after 1 attempt (retry budget exhausted)"), "{}", error.message);
    // The refusal's hint is the time until the budget's account starts over (10 s windows).
    assert_eq!(events[2].due_at_ms, Some(events[2].timestamp_ms + 10_000));
}

#[tokio::test(start_paused = true)]
async fn a_budget_refusal_is_visible_in_the_dead_letter() {
    let run = Run::new();
    run.queue.enqueue(1).await.unwrap();
    let no_retries = RetryBudget::new(0.0, 0).unwrap();
    let retry = RetryConfig::builder().max_attempts(3).budget(no_retries).build().unwrap();
    let action = Arc::new(FailTimes::new(u32::MAX, ErrorKind::Transient).retry(retry));
    run.until(&action, RedeliveryPolicy::never(), 1).await;
    let dead = run.queue.dead_letters().await.unwrap();
    assert_eq!(dead[0].failure.gave_up, Some(GiveUpReason::BudgetExhausted));
    assert_eq!(dead[0].failure.attempts.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_above_the_cap_is_clamped() {
    let run = Run::new();
    run.queue.enqueue(1).await.unwrap();
    let action = Arc::new(FailTimes::new(1, ErrorKind::Transient).retry_after(Duration::from_secs(3600)));
    let report = run.until(&action, policy(5, Duration::from_secs(1), Duration::from_secs(60)), 1).await;
    assert_eq!((report.completed, report.redelivered), (1, 1));
    assert_eq!(action.gaps(), [Duration::from_secs(60)]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_below_the_backoff_wins() {
    let run = Run::new();
    run.queue.enqueue(1).await.unwrap();
    let action = Arc::new(FailTimes::new(1, ErrorKind::Transient).retry_after(Duration::from_millis(250)));
    run.until(&action, policy(5, Duration::from_secs(10), Duration::from_secs(60)), 1).await;
    assert_eq!(action.gaps(), [Duration::from_millis(250)]);
}

/// Sleeps for as many seconds as its input, then succeeds.
struct Sleeps;

impl Action for Sleeps {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "sleeps"
    }

    async fn execute(&self, secs: u32, _: &(), _: &ActionContext) -> Result<u32, ActionError> {
        tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
        Ok(secs)
    }
}

#[tokio::test(start_paused = true)]
async fn cancellation_at_shutdown_gives_the_job_back_at_once_and_is_no_failed_delivery() {
    let run = Run::new();
    let id = run.queue.enqueue(3600).await.unwrap();
    let runner = Runner::builder(Shared(Arc::new(Sleeps)), run.queue.clone(), ())
        .status(run.events.clone())
        .grace(Duration::from_secs(1))
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(runner.run(shutdown.clone()));
    while run.queue.reserved_len() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    shutdown.cancel();
    let report = running.await.unwrap();
    assert_eq!((report.returned, report.redelivered, report.dead_lettered), (1, 0, 0));
    assert_eq!(report.unfinished, [id]);

    let again = run.queue.reserve(1, Duration::ZERO).await.unwrap();
    assert_eq!((again[0].id, again[0].delivery), (id, 1), "ready at once, and the delivery did not count");
    let failure = worker_utils::queue::Failure::from_error(&ActionError::cancelled(), 1);
    run.queue.dead_letter(again[0].receipt(), failure, None).await.unwrap();
    assert!(run.queue.dead_letters().await.unwrap()[0].earlier.is_empty(), "no failed delivery was recorded");
}

#[tokio::test(start_paused = true)]
async fn a_job_handed_out_too_often_without_an_outcome_is_dead_lettered_unrun() {
    let events = Collect::default();
    let queue = Arc::new(
        MemoryQueue::builder("jobs").lease(Duration::from_secs(1)).status(events.clone()).build().unwrap(),
    );
    let id = queue.enqueue(1).await.unwrap();
    // Three workers took it and vanished: their leases ran out.
    for _ in 0..3 {
        assert_eq!(queue.reserve(1, Duration::from_secs(5)).await.unwrap().len(), 1);
    }
    let run = Run { queue, events };
    let action = Arc::new(FailTimes::<u32>::new(0, ErrorKind::Transient));
    let report = run.until(&action, policy(3, Duration::from_secs(1), Duration::from_secs(60)), 1).await;
    assert_eq!((report.dead_lettered, action.calls()), (1, 0));
    let dead = run.queue.dead_letters().await.unwrap();
    assert_eq!((dead[0].id, dead[0].deliveries, dead[0].failure.kind), (id, 4, ErrorKind::System));
    assert!(dead[0].failure.message.contains("more than max_deliveries (3)"), "{}", dead[0].failure.message);
}

/// By payload: `n % 10 == 1` panics, `== 2` fails permanently, `== 3` fails transiently on
/// every attempt; everything else succeeds.
struct Mix;

impl Action for Mix {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "mix"
    }

    async fn execute(&self, n: u32, _: &(), _: &ActionContext) -> Result<u32, ActionError> {
        tokio::task::yield_now().await;
        match n % 10 {
            1 => panic!("job {n} panics"),
            2 => Err(ActionError::permanent(std::io::Error::other("bad input"))),
            3 => Err(ActionError::transient(std::io::Error::other("upstream down"))),
            _ => Ok(n),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_mixed_jobs_none_lost_one_terminal_event_each() {
    let run = Run::new();
    run.queue.enqueue_batch((0..10_000).collect()).await.unwrap();
    let retry = RetryConfig::builder().max_attempts(2).base_delay(Duration::from_millis(5)).no_budget();
    let action = Arc::new(Mix.retry(retry.build().unwrap()).error_handling());
    let report = run.until(&action, RedeliveryPolicy::default(), 10_000).await;

    let per_kind = 1_000;
    assert_eq!(report.completed, 7 * per_kind);
    assert_eq!(report.dead_lettered, 3 * per_kind);
    assert_eq!(report.panics, per_kind, "panics caught by error_handling count too");
    assert_eq!(report.redelivered, 4 * per_kind, "each transient job: 4 redeliveries, then dead");
    assert!(run.queue.is_empty());

    let dead = run.queue.dead_letters().await.unwrap();
    let mut deliveries_by_kind: std::collections::HashMap<ErrorKind, Vec<u32>> = Default::default();
    for letter in &dead {
        deliveries_by_kind.entry(letter.failure.kind).or_default().push(letter.deliveries);
    }
    assert!(deliveries_by_kind[&ErrorKind::System].iter().all(|&d| d == 1), "panics: never redelivered");
    assert!(deliveries_by_kind[&ErrorKind::Permanent].iter().all(|&d| d == 1));
    assert!(deliveries_by_kind[&ErrorKind::Transient].iter().all(|&d| d == 5));

    let mut terminal: BTreeMap<JobId, Vec<JobStatus>> = BTreeMap::new();
    for event in run.events.0.lock().unwrap().iter().filter(|e| e.status.is_terminal()) {
        terminal.entry(event.job_id).or_default().push(event.status);
    }
    assert_eq!(terminal.len(), 10_000, "every job reached an end");
    assert!(terminal.values().all(|statuses| statuses.len() == 1), "exactly one terminal event per job");
}

#[test]
fn bad_policy_settings_name_the_field() {
    let field = |b: worker_utils::worker::RedeliveryPolicyBuilder| b.build().unwrap_err().field().to_owned();
    assert_eq!(field(RedeliveryPolicy::builder().max_deliveries(0)), "max_deliveries");
    assert_eq!(
        field(RedeliveryPolicy::builder().max_delay(Duration::from_secs(31 * 24 * 3600))),
        "max_delay"
    );
    assert_eq!(field(RedeliveryPolicy::builder().base_delay(Duration::from_secs(3600))), "base_delay");
}
