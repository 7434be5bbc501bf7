//! The runner: outcomes per job, panics, dead letters and re-enqueue, graceful shutdown,
//! the concurrency limit, status events, and 10,000 jobs with none lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::status::{StatusEvent, StatusSink};
use worker_utils::worker::{RedeliveryPolicy, RunReport, RunStats, Runner, Worker};

/// Behaves by payload: multiples of 13 panic, of 10 fail permanently, of 7 fail once
/// (transiently) then succeed, 1000 + n sleeps n seconds; everything else succeeds.
#[derive(Default)]
struct ByPayload {
    active: AtomicUsize,
    max_active: AtomicUsize,
}

impl Action for ByPayload {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "by_payload"
    }

    async fn execute(&self, n: u32, _: &(), ctx: &ActionContext) -> Result<u32, ActionError> {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_active.fetch_max(now, Ordering::SeqCst);
        let _active = scopeguard(&self.active);
        if n >= 1000 {
            tokio::time::sleep(Duration::from_secs(u64::from(n - 1000))).await;
        } else {
            tokio::task::yield_now().await;
        }
        match n {
            n if n.is_multiple_of(13) && n < 1000 => panic!("payload {n} panics"),
            n if n.is_multiple_of(10) && n < 1000 => {
                Err(ActionError::permanent(std::io::Error::other(format!("bad {n}"))))
            }
            n if n.is_multiple_of(7) && ctx.attempt() == 1 => {
                Err(ActionError::transient(std::io::Error::other("flaky")))
            }
            n => Ok(n),
        }
    }
}

/// Decrements the active count when a call ends, however it ends.
fn scopeguard(active: &AtomicUsize) -> impl Drop + '_ {
    struct Guard<'a>(&'a AtomicUsize);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    Guard(active)
}

struct Numbers(Arc<ByPayload>);

impl Worker for Numbers {
    type Deps = ();
    type Pipeline = Retry<Arc<ByPayload>>;

    fn queue(&self) -> &str {
        "numbers"
    }

    fn pipeline(&self) -> Self::Pipeline {
        let config =
            RetryConfig::builder().max_attempts(3).base_delay(Duration::from_millis(10)).build().unwrap();
        Retry::new(self.0.clone(), config)
    }

    fn concurrency(&self) -> usize {
        4
    }
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<StatusEvent>>>);

impl StatusSink for Collect {
    fn publish(&self, event: StatusEvent) {
        self.0.lock().unwrap().push(event);
    }
}

struct Setup {
    queue: Arc<MemoryQueue<u32>>,
    action: Arc<ByPayload>,
    events: Collect,
}

fn setup() -> Setup {
    let events = Collect::default();
    let queue = Arc::new(MemoryQueue::builder("numbers").status(events.clone()).build().unwrap());
    Setup { queue, action: Arc::default(), events }
}

impl Setup {
    /// Runs with `concurrency` slots reserving `batch` jobs at a time until `done(stats)`,
    /// then shuts down with `grace` and returns the report.
    async fn run_until(
        &self,
        (concurrency, batch): (usize, usize),
        grace: Duration,
        done: impl Fn(&RunStats) -> bool,
    ) -> RunReport {
        let runner = Runner::builder(Numbers(self.action.clone()), self.queue.clone(), ())
            .status(self.events.clone())
            .concurrency(concurrency)
            .batch(batch)
            .grace(grace)
            .build()
            .unwrap();
        let stats = runner.stats();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(runner.run(shutdown.clone()));
        while !done(&stats) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shutdown.cancel();
        run.await.unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_job_fails_alone_and_the_worker_goes_on() {
    let s = setup();
    s.queue.enqueue_batch(vec![1, 13, 2]).await.unwrap();
    let report = s.run_until((1, 16), Duration::from_secs(1), |st| st.finished() == 3).await;
    assert_eq!((report.completed, report.dead_lettered, report.panics), (2, 1, 1));
    let dead = s.queue.dead_letters().await.unwrap();
    assert_eq!(dead[0].job, 13);
    assert_eq!(dead[0].failure.kind, ErrorKind::System);
    assert!(dead[0].failure.message.contains("payload 13 panics"), "{}", dead[0].failure.message);
}

#[tokio::test(start_paused = true)]
async fn failures_are_dead_lettered_with_history_and_can_run_again() {
    let s = setup();
    let id = s.queue.enqueue(20).await.unwrap();
    s.queue.enqueue(14).await.unwrap(); // fails once, then succeeds on retry
    let report = s.run_until((1, 16), Duration::from_secs(1), |st| st.finished() == 2).await;
    assert_eq!((report.completed, report.dead_lettered, report.retries), (1, 1, 1));

    let dead = s.queue.dead_letters().await.unwrap();
    assert_eq!((dead[0].id, dead[0].job), (id, 20));
    assert_eq!(dead[0].failure.kind, ErrorKind::Permanent);
    assert_eq!(dead[0].failure.action, "by_payload");
    assert_eq!(dead[0].failure.attempts.len(), 1, "permanent: tried once");

    let again = s.queue.requeue_dead(id).await.unwrap();
    assert_ne!(again, id);
    assert_eq!(s.queue.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_on_the_last_delivery_keep_every_attempt_in_the_dead_letter() {
    struct AlwaysTransient;
    impl Action for AlwaysTransient {
        type Input = u32;
        type Output = ();
        fn name(&self) -> &'static str {
            "always_transient"
        }
        async fn execute(&self, _: u32, _: &(), ctx: &ActionContext) -> Result<(), ActionError> {
            Err(ActionError::transient(std::io::Error::other("down")).in_context("always_transient", ctx))
        }
    }
    struct Down;
    impl Worker for Down {
        type Deps = ();
        type Pipeline = Retry<AlwaysTransient>;
        fn queue(&self) -> &str {
            "numbers"
        }
        fn pipeline(&self) -> Self::Pipeline {
            AlwaysTransient.retry(RetryConfig::builder().max_attempts(4).build().unwrap())
        }
    }
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    queue.enqueue(1).await.unwrap();
    let runner =
        Runner::builder(Down, queue.clone(), ()).redelivery(RedeliveryPolicy::never()).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    worker_utils_tests::wait_until("the jobs finish", worker_utils_tests::PAUSED_CLOCK_LIMIT, || {
        stats.finished() >= 1
    })
    .await;
    shutdown.cancel();
    assert_eq!(run.await.unwrap().retries, 3);
    let failure = &queue.dead_letters().await.unwrap()[0].failure;
    let attempts: Vec<u32> = failure.attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert!(failure.message.contains("gave up after 4 attempts"), "{}", failure.message);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_jobs_finish_within_the_grace_period() {
    let s = setup();
    // Two slots: a 2 s job and a 60 s job; the grace period is 5 s.
    s.queue.enqueue_batch(vec![1002, 1060]).await.unwrap();
    let report = s.run_until((2, 1), Duration::from_secs(5), |_| s.queue.reserved_len() == 2).await;
    assert_eq!(report.completed, 1, "the 2 s job finished during the grace period");
    assert_eq!(report.unfinished.len(), 1, "the 60 s job did not");
    assert_eq!(report.returned, 1);
    assert_eq!(s.queue.len(), 1, "it went back to the queue");
    assert_eq!(s.queue.reserved_len(), 0);
    assert_eq!(s.queue.reserve(1, Duration::ZERO).await.unwrap()[0].job, 1060);
}

#[tokio::test(start_paused = true)]
async fn jobs_not_started_at_shutdown_go_back_at_once() {
    let s = setup();
    // One slot reserves the whole batch; shutdown arrives while the first job runs.
    s.queue.enqueue_batch(vec![1003, 1, 2, 3]).await.unwrap();
    let report = s.run_until((1, 16), Duration::from_secs(10), |_| s.queue.reserved_len() == 4).await;
    assert_eq!((report.completed, report.returned), (1, 3));
    assert!(report.unfinished.is_empty());
    assert_eq!(s.queue.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn no_more_jobs_run_at_once_than_the_concurrency() {
    let s = setup();
    s.queue.enqueue_batch((0..24).map(|_| 1001).collect()).await.unwrap();
    let report = s.run_until((3, 1), Duration::from_secs(1), |st| st.finished() == 24).await;
    assert_eq!(report.completed, 24);
    assert_eq!(s.action.max_active.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn every_job_gets_processing_then_exactly_one_terminal_event() {
    let s = setup();
    s.queue.enqueue_batch((1..=40).collect()).await.unwrap();
    s.run_until((4, 4), Duration::from_secs(1), |st| st.finished() == 40).await;

    let mut per_job: BTreeMap<u64, Vec<JobStatus>> = BTreeMap::new();
    for event in s.events.0.lock().unwrap().iter() {
        per_job.entry(event.job_id.get()).or_default().push(event.status);
    }
    assert_eq!(per_job.len(), 40);
    for (job, statuses) in per_job {
        let terminal = statuses.iter().filter(|s| s.is_terminal()).count();
        assert_eq!(terminal, 1, "job {job}: {statuses:?}");
        assert_eq!(&statuses[..2], [JobStatus::Pending, JobStatus::Processing], "job {job}");
        assert!(statuses.last().unwrap().is_terminal(), "job {job}: {statuses:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_jobs_with_mixed_outcomes_none_lost() {
    let s = setup();
    let jobs: Vec<u32> = (1..=10_000).map(|n| n % 1000).collect();
    s.queue.enqueue_batch(jobs.clone()).await.unwrap();
    let report = s.run_until((8, 16), Duration::from_secs(1), |st| st.finished() == 10_000).await;

    let fails = |n: &u32| n.is_multiple_of(13) || n.is_multiple_of(10);
    let expected_dead = jobs.iter().filter(|n| fails(n)).count() as u64;
    assert_eq!(report.completed + report.dead_lettered, 10_000);
    assert_eq!(report.dead_lettered, expected_dead);
    assert_eq!(report.panics, jobs.iter().filter(|n| n.is_multiple_of(13)).count() as u64);
    assert_eq!(report.retries, jobs.iter().filter(|n| n.is_multiple_of(7) && !fails(n)).count() as u64);
    assert_eq!(s.queue.dead_letters().await.unwrap().len() as u64, expected_dead);
    assert!(s.queue.is_empty());
}

#[test]
fn bad_runner_settings_name_the_field() {
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    let field = |b: worker_utils::worker::RunnerBuilder<Numbers, MemoryQueue<u32>>| {
        b.build().unwrap_err().field().to_owned()
    };
    let new = || Runner::builder(Numbers(Arc::default()), queue.clone(), ());
    assert_eq!(field(new().concurrency(0)), "concurrency");
    assert_eq!(field(new().concurrency(usize::MAX)), "concurrency");
    assert_eq!(field(new().batch(0)), "batch");
    assert_eq!(field(new().batch(1_000_000)), "batch");
    assert_eq!(field(new().grace(Duration::MAX)), "grace");
    let other = Arc::new(MemoryQueue::builder("letters").build().unwrap());
    let err = Runner::builder(Numbers(Arc::default()), other, ()).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `queue`: the worker consumes `numbers` but was given queue `letters`"
    );
}

/// A hand-written action that panics in `execute` itself, before any future exists, for
/// even inputs; odd ones succeed.
struct PanicsWhenCalled;

impl Action for PanicsWhenCalled {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "panics_when_called"
    }

    fn execute(
        &self,
        n: u32,
        _: &(),
        _: &ActionContext,
    ) -> impl std::future::Future<Output = Result<u32, ActionError>> + Send {
        assert!(n % 2 == 1, "eager panic for {n}");
        std::future::ready(Ok(n))
    }
}

/// Runs `pipeline` on `queue` with `sink` until `jobs` jobs finished, and reports.
async fn run_to_end<P>(pipeline: P, queue: Arc<MemoryQueue<u32>>, sink: Collect, jobs: u64) -> RunReport
where
    P: Action<(), Input = u32> + Clone + 'static,
{
    struct Once<P>(P);
    impl<P: Action<(), Input = u32> + Clone + 'static> Worker for Once<P> {
        type Deps = ();
        type Pipeline = P;
        fn queue(&self) -> &str {
            "numbers"
        }
        fn pipeline(&self) -> P {
            self.0.clone()
        }
        fn concurrency(&self) -> usize {
            2
        }
    }
    let runner = Runner::builder(Once(pipeline), queue, ()).status(sink).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    for _ in 0..10_000 {
        if stats.finished() >= jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    run.await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_call_to_execute_fails_the_job_not_the_slot() {
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    queue.enqueue_batch((0..100).collect()).await.unwrap();
    let report = run_to_end(Arc::new(PanicsWhenCalled), queue.clone(), Collect::default(), 100).await;
    assert_eq!((report.completed, report.dead_lettered, report.panics), (50, 50, 50));
    assert_eq!(report.slot_restarts, 0);
    assert!(queue.is_empty());

    // The same behind error handling, which guards only the future's polls: the runner's
    // guard catches it and makes it a System error.
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    queue.enqueue_batch((0..100).collect()).await.unwrap();
    let guarded = Arc::new(PanicsWhenCalled.error_handling());
    let report = run_to_end(guarded, queue.clone(), Collect::default(), 100).await;
    assert_eq!((report.completed, report.dead_lettered, report.panics), (50, 50, 50));
    let letters = queue.dead_letters().await.unwrap();
    assert_eq!(letters[0].failure.kind, ErrorKind::System);
    assert!(letters[0].failure.message.contains("eager panic"), "{:?}", letters[0].failure);
}

/// A status sink that panics the first `n` times it is handed events.
#[derive(Clone)]
struct PanickingSink(Arc<AtomicUsize>);

impl StatusSink for PanickingSink {
    fn publish(&self, _: StatusEvent) {
        let left = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        assert!(left.is_err(), "the status sink broke");
    }
}

#[tokio::test(start_paused = true)]
async fn a_slot_that_dies_outside_a_job_is_replaced_and_its_jobs_go_back() {
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    queue.enqueue_batch((1..=200).map(|n| n * 2 + 1).collect()).await.unwrap();
    let runner = Runner::builder(Numbers(Arc::default()), queue.clone(), ())
        .status(PanickingSink(Arc::new(AtomicUsize::new(2))))
        .build()
        .unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    for _ in 0..10_000 {
        if queue.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    let report = run.await.unwrap();
    assert_eq!(report.slot_restarts, 2, "{report:?}");
    assert_eq!(stats.slot_restarts(), 2);
    // Every job ran to an outcome: the ones the dead slots held went back and ran again.
    assert!(queue.is_empty(), "{queue:?}");
    assert_eq!(report.completed + report.dead_lettered, 200, "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_back_unstarted_jobs_at_once_and_reports_only_started_ones() {
    let s = setup();
    // One slot reserves 4 jobs; its first runs for a minute, longer than the grace period.
    s.queue.enqueue_batch(vec![1060, 1, 2, 3]).await.unwrap();
    let runner = Runner::builder(Numbers(s.action.clone()), s.queue.clone(), ())
        .concurrency(1)
        .grace(Duration::from_secs(30))
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    while s.queue.reserved_len() < 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(s.queue.reserved_len(), 1, "the three unstarted jobs are back long before the grace ends");
    let report = run.await.unwrap();
    assert_eq!(report.unfinished.len(), 1, "only the job that had started: {report:?}");
    assert_eq!(report.returned, 4);
    assert_eq!(s.queue.len(), 4);
}

#[test]
fn the_lease_check_names_the_whole_pipeline() {
    use worker_utils::pipeline::Then;
    use worker_utils::testing::Mock;
    type Step = Timeout<Mock<fn(u32) -> Result<u32, ActionError>, u32, u32>>;
    struct TwoSteps;
    impl Worker for TwoSteps {
        type Deps = ();
        type Pipeline = Then<Step, Step>;
        fn queue(&self) -> &str {
            "numbers"
        }
        fn pipeline(&self) -> Self::Pipeline {
            let step = |name| {
                let same: fn(u32) -> Result<u32, ActionError> = Ok;
                Timeout::new(Mock::new(same).named(name), Duration::from_secs(40))
            };
            step("fetch").then(step("store"))
        }
    }
    let queue = Arc::new(MemoryQueue::builder("numbers").lease(Duration::from_secs(60)).build().unwrap());
    let err = Runner::builder(TwoSteps, queue, ()).build().unwrap_err();
    assert_eq!(err.field(), "lease");
    assert!(err.reason().contains("pipeline `fetch → store` can run for up to 80s"), "{err}");
}

#[test]
fn queue_leases_are_bounded() {
    let err = MemoryQueue::<u32>::builder("q").lease(Duration::MAX).build().unwrap_err();
    assert_eq!(err.field(), "lease");
    assert!(MemoryQueue::<u32>::builder("q").lease(worker_utils::queue::MAX_LEASE).build().is_ok());
}

#[tokio::test(start_paused = true)]
async fn memory_dead_letters_are_capped_with_evictions_counted() {
    let queue = Arc::new(MemoryQueue::builder("numbers").dead_letter_cap(5).build().unwrap());
    // Multiples of 10 fail permanently.
    queue.enqueue_batch((1..=12).map(|n| n * 10).collect()).await.unwrap();
    let report = run_to_end(Arc::new(ByPayload::default()), queue.clone(), Collect::default(), 12).await;
    assert_eq!(report.dead_lettered, 12);
    let kept: Vec<u32> = queue.dead_letters().await.unwrap().into_iter().map(|d| d.job).collect();
    assert_eq!(kept.len(), 5);
    assert_eq!(queue.dead_letters_evicted(), 7);
    assert_eq!(queue.counts().await.unwrap().dead, 5);
}
